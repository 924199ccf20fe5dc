# Builds a dicomscan.Index (as JSON) for the files given, with pydicom: an
# independent reader, so the pdi tests do not check the writer against
# itself. Usage: python3 index.py ROOT FILE...  (paths relative to ROOT)
import json, os, sys
from pydicom import dcmread

root = sys.argv[1]
patients = {}
order = []
for rel in sys.argv[2:]:
    p = os.path.join(root, rel)
    ds = dcmread(p, stop_before_pixels=True, force=True)
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    ds.decode()
    def s(kw):
        v = ds.get(kw, "")
        return "" if v is None else str(v)
    def n(kw):
        try:
            return int(ds.get(kw) or 0)
        except (TypeError, ValueError):
            return 0
    pkey = (s("PatientID"), s("PatientName"))
    if pkey not in patients:
        patients[pkey] = {"name": s("PatientName"), "id": s("PatientID"),
                          "birthDate": s("PatientBirthDate"), "sex": s("PatientSex"),
                          "studies": {}}
        order.append(pkey)
    studies = patients[pkey]["studies"]
    st = studies.setdefault(s("StudyInstanceUID"), {
        "studyInstanceUID": s("StudyInstanceUID"), "studyID": s("StudyID"),
        "date": s("StudyDate"), "time": s("StudyTime"),
        "description": s("StudyDescription"), "accessionNumber": s("AccessionNumber"),
        "series": {}, "files": 0, "bytes": 0})
    se = st["series"].setdefault(s("SeriesInstanceUID"), {
        "seriesInstanceUID": s("SeriesInstanceUID"), "number": n("SeriesNumber"),
        "modality": s("Modality"), "description": s("SeriesDescription"),
        "instances": [], "bytes": 0})
    size = os.path.getsize(p)
    cs = ds.get("SpecificCharacterSet", "")
    if not isinstance(cs, str):
        cs = "\\".join(cs)
    se["instances"].append({
        "sopInstanceUID": s("SOPInstanceUID"), "sopClassUID": s("SOPClassUID"),
        "transferSyntaxUID": ts, "number": n("InstanceNumber"), "path": rel,
        "size": size, "characterSet": cs})
    se["bytes"] += size
    st["files"] += 1
    st["bytes"] += size

out = {"source": root, "method": "scan", "patients": []}
for k in order:
    p = patients[k]
    studies = []
    for st in p["studies"].values():
        st["series"] = list(st["series"].values())
        st["modalities"] = sorted({se["modality"] for se in st["series"] if se["modality"]})
        studies.append(st)
    p["studies"] = studies
    out["patients"].append(p)
out["files"] = len(sys.argv) - 2
json.dump(out, sys.stdout)
