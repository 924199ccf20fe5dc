#!/usr/bin/python3
"""Independent checker for dicomscan/deid, run by its Go tests.

It reads Table E.1-1 (table_e1_1.tsv) and the files before and after
de-identification with pydicom, and checks for every attribute of every
row present in a file, wherever it appears (sequences too), what the
profile and options demand:

  X absent; Z present and empty; D present with a value other than the
  original; U a new 2.25 UID, the same new UID for the same old one in
  every file of the set; K unchanged; C shifted dates (by the patient's
  offset) or cleaned text (only words of the original, no digits).

Attributes the table does not name must be unchanged. Private attributes
must be gone (except the safe list with the option). Pixel data, the
transfer syntax and the de-identification attributes are checked too.

  check_deid.py augment IN OUT TS   write IN with every table row added, in TS
  check_deid.py check REQUEST.json  check; prints a JSON report
"""
import copy
import datetime
import hashlib
import json
import re
import sys
import warnings

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

warnings.simplefilter("ignore")

OPT_COLS = ["RtnSafePriv", "RtnUIDs", "RtnDevId", "RtnInstId", "RtnPatChars", "RtnLongFullDates",
            "RtnLongModifDates", "CleanDesc", "CleanStructCont", "CleanGraph"]


def load_table(path):
    rows, exact, masked, private = [], {}, [], None
    header = None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("#"):
            continue
        f = line.split("\t")
        if header is None:
            header = f
            continue
        r = dict(zip(header, f))
        rows.append(r)
        t = r["Tag"].strip("()")
        if "GGGG" in t:
            private = r
            continue
        hexs = t.replace(",", "").upper()
        value = int(hexs.replace("X", "0"), 16)
        mask = int("".join("0" if c == "X" else "F" for c in hexs), 16)
        r["_value"], r["_mask"] = value, mask
        if mask == 0xFFFFFFFF:
            exact[value] = r
        else:
            masked.append(r)
    return rows, exact, masked, private


def lookup(tbl, tag):
    rows, exact, masked, private = tbl
    if tag in exact:
        return exact[tag]
    g = tag >> 16
    if g % 2 == 1:
        return private
    for r in masked:
        if tag & r["_mask"] == r["_value"] and (g & 0xFF) <= 0x1E and g % 2 == 0:
            return r
    return None


def enabled_cols(opts):
    return {
        "RtnSafePriv": opts.get("KeepSafePrivate", False),
        "RtnUIDs": opts.get("KeepUIDs", False),
        "RtnDevId": opts.get("KeepDeviceIdentity", False),
        "RtnInstId": opts.get("KeepInstitutionIdentity", False),
        "RtnPatChars": opts.get("KeepPatientCharacteristics", False),
        "RtnLongFullDates": opts.get("Dates", 0) == 1,
        "RtnLongModifDates": opts.get("Dates", 0) == 2,
        "CleanDesc": opts.get("CleanDescriptors", False),
        "CleanStructCont": False,
        "CleanGraph": False,
    }


def action(row, cols):
    a = row["BasicProfile"]
    best = ""
    for c in OPT_COLS:
        o = row[c]
        if cols[c] and o:
            if not best or o == "K" or (o == "C" and best != "K"):
                best = o
    return best or a


def empty(el):
    if el.VR == "SQ":
        return len(el.value) == 0
    v = el.value
    if v is None:
        return True
    if isinstance(v, (bytes, str)):
        return len(v.strip(b" \x00" if isinstance(v, bytes) else " \x00")) == 0
    if isinstance(v, (list, pydicom.multival.MultiValue)):
        return len(v) == 0
    return str(v).strip() == ""


def resolve(a, el):
    if a == "X/Z":
        return "Z"
    if a in ("X/D", "Z/D", "X/Z/D"):
        return "Z" if el.VR != "SQ" and empty(el) else "D"
    if a == "X/Z/U*":
        return "U"
    return a


def raw(el):
    """The value's bytes as text, for comparison."""
    v = el.value
    if isinstance(v, bytes):
        return v.rstrip(b" \x00")
    return str(v).rstrip(" \x00")


DT_VALUE = re.compile(r"^[0-9]{4,14}(\.[0-9]{1,6})?([+-][0-9]{4})?$")


def shifted(v, days, dt=False):
    out = []
    for val in str(v).split("\\"):
        val = val.strip()
        if dt and DT_VALUE.match(val):
            ends = [val]
        elif dt:
            ends = [""]
            for i, ch in enumerate(val):
                a, b = val[:i], val[i + 1:]
                if ch == "-" and (not a or DT_VALUE.match(a)) and (not b or DT_VALUE.match(b)):
                    ends = [a, b]
                    break
        else:
            ends = val.split("-")
        res = []
        for e in ends:
            e = e.strip()
            if not e:
                res.append("")
                continue
            try:
                d = datetime.datetime.strptime(e[:8], "%Y%m%d") + datetime.timedelta(days=days)
            except ValueError:  # not a full date: cannot be shifted, so removed
                res.append("")
                continue
            res.append(d.strftime("%Y%m%d") + e[8:])
        out.append("-".join(res))
    return "\\".join(out)


class Checker:
    def __init__(self, table, opts):
        self.tbl = load_table(table)
        self.opts = opts
        self.cols = enabled_cols(opts)
        self.uidmap = {}
        self.failures = []
        self.counts = {}
        self.rows_seen = set()
        self.sops = {}  # original SOP Instance UID -> new, per file of the set
        self.refs = []  # (where, original, new) of every Referenced SOP Instance UID

    def fail(self, where, msg):
        if len(self.failures) < 200:
            self.failures.append("%s: %s" % (where, msg))

    def count(self, a):
        self.counts[a] = self.counts.get(a, 0) + 1

    def uid(self, where, old, new):
        # Tags newer than pydicom's dictionary read back as UN (bytes) from implicit VR files.
        old, new = [v.decode("ascii", "replace") if isinstance(v, bytes) else v for v in (old, new)]
        for o, n in zip(str(old).split("\\"), str(new).split("\\")):
            o, n = o.strip("\x00 "), n.strip("\x00 ")
            if not re.fullmatch(r"2\.25\.\d{1,39}", n) or o == n:
                self.fail(where, "UID %r -> %r is not a new 2.25 UID" % (o, n))
            if self.uidmap.setdefault(o, n) != n:
                self.fail(where, "UID %r maps to %r and %r" % (o, self.uidmap[o], n))

    def walk(self, din, dout, where, days, pseudonym, dummy=False, depth=0):
        for el in din:
            tag = int(el.tag)
            w = "%s(%04X,%04X)" % (where, tag >> 16, tag & 0xFFFF)
            out = dout.get(el.tag) if dout is not None else None
            g = tag >> 16
            if g == 0x0002:
                continue
            row = lookup(self.tbl, tag)
            if tag in (0x00100010, 0x00100020):
                self.rows_seen.add(row["Tag"])
                self.count("pseudonym")
                if out is None or raw(out) != pseudonym:
                    self.fail(w, "patient name/ID %r, want the pseudonym %r" % (out and raw(out), pseudonym))
                continue
            if g % 2 == 1:
                self.rows_seen.add(self.tbl[3]["Tag"])
                if (tag & 0xFF00) == 0 and (tag & 0xFF) >= 0x10:
                    continue  # private creators: checked with their elements
                safe = self.opts.get("KeepSafePrivate") and self.safe(din, tag)
                self.count("private-kept" if safe else "private-X")
                if safe and (out is None or raw(out) != raw(el)):
                    self.fail(w, "safe private attribute not kept")
                if not safe and out is not None:
                    self.fail(w, "private attribute kept")
                continue
            if row is None:
                if out is None:
                    if tag & 0xFFFF == 0:
                        continue  # group lengths are dropped (they would be wrong)
                    if not (0x6000 <= g <= 0x601E and depth == 0):  # whole overlays go with their data
                        self.fail(w, "attribute not in the table was removed")
                    continue
                if el.VR == "SQ":
                    self.items(el, out, w, days, pseudonym, dummy, depth)
                elif self.opts.get("Dates", 0) == 2 and el.VR in ("DA", "DT") and not empty(el):
                    self.count("shift-other")
                    if raw(out) != shifted(raw(el), days, el.VR == "DT"):
                        self.fail(w, "date %r -> %r, want shift by %d days" % (raw(el), raw(out), days))
                elif not dummy and raw(out) != raw(el):
                    self.fail(w, "attribute not in the table changed: %r -> %r" % (raw(el), raw(out)))
                continue
            self.rows_seen.add(row["Tag"])
            a = resolve(action(row, self.cols), el)
            if a == "X" and tag in KEEP_PRESENT:
                a = "Z"
            self.count(a)
            if a == "X":
                if out is not None:
                    self.fail(w, "X but present (%r)" % (raw(out),))
                continue
            if out is None:
                self.fail(w, "%s but removed" % a)
                continue
            if a == "Z":
                if not empty(out):
                    self.fail(w, "Z but %r" % (raw(out),))
            elif a == "D":
                if el.VR == "SQ":
                    self.items(el, out, w, days, pseudonym, True, depth)
                elif not empty(el) and el.VR != "UI" and raw(out) == raw(el):
                    self.fail(w, "D but unchanged %r" % (raw(el),))
            elif a == "U":
                if el.VR == "SQ":
                    self.items(el, out, w, days, pseudonym, dummy, depth)
                elif not empty(el):
                    self.uid(w, raw(el), raw(out))
                    if tag == 0x00081155:
                        self.refs.append((w, str(raw(el)), str(raw(out))))
            elif a == "K":
                if el.VR == "SQ":
                    self.items(el, out, w, days, pseudonym, dummy, depth)
                elif raw(out) != raw(el):
                    self.fail(w, "K but %r -> %r" % (raw(el), raw(out)))
            elif a == "C":
                vr = row["VR"] or el.VR
                if vr in ("OB", "OW", "UN", "OF", "OD", "OL", "OV"):
                    if isinstance(out.value, bytes) and out.value.strip(b"\x00"):
                        self.fail(w, "C on binary %r left %r" % (el.value[:16], out.value[:16]))
                elif el.VR == "SQ":
                    self.items(el, out, w, days, pseudonym, dummy, depth)
                elif vr in ("DA", "DT"):
                    want = shifted(raw(el), days, vr == "DT") if self.opts.get("Dates", 0) == 2 else ""
                    if not empty(el) and raw(out) != want:
                        self.fail(w, "C date %r -> %r, want %r" % (raw(el), raw(out), want))
                elif vr == "TM" or tag == 0x00080201:
                    if raw(out) != raw(el):
                        self.fail(w, "C time changed %r -> %r" % (raw(el), raw(out)))
                elif isinstance(out.value, (str, bytes)) or vr in ("LO", "LT", "ST", "SH", "UT", "UC"):
                    words_in = str(raw(el)).split()
                    if raw(out) == "ANONYMIZED" and resolve(row["BasicProfile"], el) == "D":
                        continue  # nothing left after cleaning: the basic profile's dummy
                    for word in str(raw(out)).split():
                        if word not in words_in or re.search(r"[0-9@]", word):
                            self.fail(w, "C text %r -> %r keeps %r" % (raw(el), raw(out), word))

    def items(self, el, out, w, days, pseudonym, dummy, depth):
        if out.VR != "SQ":
            self.fail(w, "sequence became %s" % out.VR)
            return
        if len(out.value) != len(el.value):
            self.fail(w, "sequence had %d items, has %d" % (len(el.value), len(out.value)))
            return
        for i, (a, b) in enumerate(zip(el.value, out.value)):
            self.walk(a, b, "%s[%d]" % (w, i), days, pseudonym, dummy, depth + 1)

    def safe(self, ds, tag):
        safe = {"SIEMENS MR HEADER": [(0x0019, 0x0C), (0x0019, 0x0D), (0x0019, 0x0E), (0x0019, 0x27)],
                "Philips MR Imaging DD 001": [(0x2001, 0x03)], "GEMS_PARM_01": [(0x0043, 0x39)]}
        creator = Tag((tag >> 16), (tag >> 8) & 0xFF)
        if creator not in ds:
            return False
        name = str(ds[creator].value).strip()
        return ((tag >> 16), tag & 0xFF) in safe.get(name, [])

    def file(self, pin, pout, days, pseudonym):
        din = pydicom.dcmread(pin, force=True)
        dout = pydicom.dcmread(pout, force=True)
        w = pin.split("/")[-1] + " "
        ts_in = str(getattr(din.file_meta, "TransferSyntaxUID", ""))
        ts_out = str(getattr(dout.file_meta, "TransferSyntaxUID", ""))
        if ts_in and ts_in != ts_out:
            self.fail(w, "transfer syntax %s -> %s" % (ts_in, ts_out))
        if "PixelData" in din:
            if "PixelData" not in dout or hashlib.sha256(din.PixelData).digest() != hashlib.sha256(dout.PixelData).digest():
                self.fail(w, "pixel data changed")
            else:
                self.count("pixel-identical")
        self.walk(din, dout, w, days, pseudonym)
        if "SOPInstanceUID" in din and "SOPInstanceUID" in dout:
            self.sops[str(din.SOPInstanceUID)] = str(dout.SOPInstanceUID)
        if dout.get("PatientIdentityRemoved") != "YES":
            self.fail(w, "PatientIdentityRemoved %r" % dout.get("PatientIdentityRemoved"))
        want = {"113100"}
        o = self.opts
        if o.get("CleanDescriptors"): want.add("113105")
        if o.get("Dates", 0) == 1: want.add("113106")
        if o.get("Dates", 0) == 2: want.add("113107")
        if o.get("KeepPatientCharacteristics"): want.add("113108")
        if o.get("KeepDeviceIdentity"): want.add("113109")
        if o.get("KeepUIDs"): want.add("113110")
        if o.get("KeepSafePrivate"): want.add("113111")
        if o.get("KeepInstitutionIdentity"): want.add("113112")
        got = {(i.CodeValue, i.CodingSchemeDesignator) for i in dout.get("DeidentificationMethodCodeSequence", [])}
        if got != {(c, "DCM") for c in want}:
            self.fail(w, "De-identification Method Code Sequence %r, want %r" % (sorted(got), sorted(want)))
        if not dout.get("DeidentificationMethod"):
            self.fail(w, "no De-identification Method")
        ltm = {0: "REMOVED", 1: "UNMODIFIED", 2: "MODIFIED"}[o.get("Dates", 0)]
        if dout.get((0x0028, 0x0303)) is None or dout[0x0028, 0x0303].value != ltm:
            self.fail(w, "Longitudinal Temporal Information Modified, want %s" % ltm)
        mi, mo = din.file_meta.get("MediaStorageSOPInstanceUID"), dout.file_meta.get("MediaStorageSOPInstanceUID")
        if mi is not None:
            if o.get("KeepUIDs"):
                if mo != mi:
                    self.fail(w, "MediaStorageSOPInstanceUID %r -> %r with Retain UIDs" % (mi, mo))
            else:
                self.uid(w + "(0002,0003)", mi, mo)


# X rows emptied instead of removed (Type 2 where they appear), as documented in deid.go.
KEEP_PRESENT = {0x300A00B2}

VALUES = {
    "AE": "STATION1", "AS": "045Y", "CS": "VALUE1", "DA": "20200315", "DS": "1.5",
    "DT": "20200315101112", "IS": "7", "LO": "Some Text 123 Doe", "LT": "long text about Doe 555-1234",
    "PN": "Doe^John", "SH": "SHORT 42", "ST": "short text", "TM": "101112", "UC": "uc text",
    "UT": "unlimited text", "UR": "http://example.org/x", "US": 1, "SS": 1, "UL": 1, "SL": 1,
    "FL": 1.0, "FD": 1.0, "OB": b"\x01\x02", "OW": b"\x01\x02", "UN": b"\x01\x02",
}


def augment(pin, pout, ts):
    augment_one(pin, pout, sys.argv[5] if len(sys.argv) > 5 else "table_e1_1.tsv", ts)


def augment_one(pin, pout, table, ts="same"):
    """Write pin with one attribute for every row of the table (masks and
    private attributes instantiated), nested sequences referencing the
    file's own UIDs, in transfer syntax ts."""
    tbl = load_table(table)
    ds = pydicom.dcmread(pin, force=True)
    # Files that lack them get the UIDs the references below point to.
    for kw, v in (("SOPInstanceUID", "1.2.826.0.1.3680043.99.1.1"), ("SOPClassUID", "1.2.840.10008.5.1.4.1.1.7"),
                  ("SeriesInstanceUID", "1.2.826.0.1.3680043.99.1.2"), ("StudyInstanceUID", "1.2.826.0.1.3680043.99.1.3")):
        if kw not in ds:
            setattr(ds, kw, v)
    n = 0
    for r in tbl[0]:
        t = r["Tag"].strip("()")
        if "GGGG" in t:
            # blocks F0 and F1: third-party files use the low ones
            ds.add_new((0x0009, 0x00F0), "LO", "ACME 1.0")
            ds.add_new((0x0009, 0xF001), "LO", "private secret")
            ds.add_new((0x0019, 0x00F1), "LO", "SIEMENS MR HEADER")
            ds.add_new((0x0019, 0xF10C), "IS", "1000")
            ds.add_new((0x0019, 0xF108), "LO", "not safe")
            continue
        hexs = t.replace(",", "").upper()
        if hexs == "50XXXXXX":
            ds.add_new((0x5000, 0x0010), "US", 1)
            ds.add_new((0x5000, 0x0005), "US", 1)
            continue
        tag = int(hexs.replace("X", "0"), 16)
        g = tag >> 16
        if g in (0x0000, 0x0002) or tag in (0x00100010, 0x00100020):
            continue  # the patient stays who the file is about; command and meta groups do not belong in a data set; (0002,0003) is in the meta
        vr = r["VR"] or "OB"
        if vr == "SQ":
            item = Dataset()
            item.CodeValue = "C123"
            item.CodingSchemeDesignator = "99TEST"
            item.CodeMeaning = "meaning Doe"
            item.ReferencedSOPInstanceUID = str(ds.SOPInstanceUID)
            item.ReferencedSOPClassUID = str(ds.SOPClassUID)
            item.InstitutionName = "Nested Hospital"
            value = Sequence([item])
        elif vr == "UI":
            n += 1
            value = "1.2.826.0.1.3680043.99.%d.%d" % (n, tag)
        else:
            value = VALUES.get(vr, b"\x01\x02")
        if tag == 0xFFFCFFFC:
            continue  # trailing padding is added after pixel data below
        ds.add_new(tag, vr, value)
    # A reference to the file's own study and series, as a Referenced Series Sequence.
    ser = Dataset()
    ser.SeriesInstanceUID = ds.SeriesInstanceUID
    img = Dataset()
    img.ReferencedSOPClassUID = ds.SOPClassUID
    img.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    ser.ReferencedImageSequence = Sequence([img])
    ds.ReferencedSeriesSequence = Sequence([ser])
    ds.add_new((0xFFFC, 0xFFFC), "OB", b"\x00\x00\x00\x00")
    if ts == "same":  # keep the file's own transfer syntax (compressed ones too)
        ts = str(getattr(ds.file_meta, "TransferSyntaxUID", "")) or (
            "1.2.840.10008.1.2" if ds.is_implicit_VR else
            "1.2.840.10008.1.2.1" if ds.is_little_endian else "1.2.840.10008.1.2.2")
    ds.file_meta.TransferSyntaxUID = ts
    ds.is_implicit_VR = ts == "1.2.840.10008.1.2"
    ds.is_little_endian = ts != "1.2.840.10008.1.2.2"
    ds.save_as(pout, write_like_original=False)


def main():
    if sys.argv[1] == "augment":
        augment(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    if sys.argv[1] == "augment-all":  # OUTDIR TABLE IN...: each in its own transfer syntax
        done = []
        for i, pin in enumerate(sys.argv[4:]):
            pout = "%s/%03d_%s" % (sys.argv[2], i, pin.split("/")[-1])
            try:
                augment_one(pin, pout, sys.argv[3])
                done.append([pin, pout])
            except Exception as e:  # pydicom cannot write every broken file back
                print("skip %s: %r" % (pin, e), file=sys.stderr)
        json.dump(done, sys.stdout)
        return
    req = json.load(open(sys.argv[2]))
    c = Checker(req["table"], req["options"])
    for p in req["pairs"]:
        try:
            c.file(p["in"], p["out"], p["shift"], p["pseudonym"])
        except Exception as e:  # a file pydicom cannot read back is a failure
            c.fail(p["out"], "pydicom: %r" % (e,))
    # References between the files of the set must still resolve.
    for w, o, n in c.refs:
        if o in c.sops:
            c.count("reference-resolved")
            if c.sops[o] != n and not req["options"].get("KeepUIDs"):
                c.fail(w, "reference to %s now %s, but that file's SOP Instance UID is %s" % (o, n, c.sops[o]))
    json.dump({"failures": c.failures, "counts": c.counts, "rows": sorted(c.rows_seen)}, sys.stdout)


if __name__ == "__main__":
    main()
