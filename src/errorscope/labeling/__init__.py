"""Labeling backends: Label Studio (HTTP) and files (Label Studio JSON, CVAT, COCO, NDJSON)."""
