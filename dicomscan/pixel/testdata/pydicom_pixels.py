#!/usr/bin/python3
"""Dump pydicom's pixel_array of frame 0 for each file given.

Usage: pydicom_pixels.py OUTDIR FILE...

For each FILE writes OUTDIR/<basename>.raw (the stored values of frame 0
as little-endian int64, samples interleaved per pixel; for a multi-frame
file also <basename>.last.raw, the last frame) and prints one JSON
object per line: name, ok, error, shape, frames, photometric (of the
array: JPEG colour is converted to RGB here), transfer syntax.
"""
import json
import os
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import convert_color_space

warnings.simplefilter("ignore")
out = sys.argv[1]
for path in sys.argv[2:]:
    name = os.path.basename(path)
    rec = {"name": name, "ok": False}
    try:
        ds = pydicom.dcmread(path, force=True)
        rec["ts"] = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in getattr(ds, "file_meta", {}) else ""
        if "PixelData" not in ds:
            rec["error"] = "no pixel data"
            print(json.dumps(rec))
            continue
        arr = ds.pixel_array
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        rec["frames"] = frames
        last = None
        if frames > 1:
            arr, last = arr[0], arr[frames - 1]
        pi = str(ds.get("PhotometricInterpretation", ""))
        # pydicom's Pillow handler leaves JPEG colour in YCbCr; the Go side
        # holds RGB: compare in RGB.
        jpeg = rec["ts"].startswith("1.2.840.10008.1.2.4.")
        if jpeg and pi.startswith("YBR") and arr.ndim == 3:
            arr = convert_color_space(arr, "YBR_FULL", "RGB")
            if last is not None:
                last = convert_color_space(last, "YBR_FULL", "RGB")
            pi = "RGB"
        rec["photometric"] = pi
        rec["shape"] = list(arr.shape)
        rec["dtype"] = str(arr.dtype)
        np.ascontiguousarray(arr, dtype="<i8").tofile(os.path.join(out, name + ".raw"))
        if last is not None:
            np.ascontiguousarray(last, dtype="<i8").tofile(os.path.join(out, name + ".last.raw"))
        rec["ok"] = True
    except Exception as e:  # noqa: BLE001 - reported to the Go test
        rec["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(rec))
