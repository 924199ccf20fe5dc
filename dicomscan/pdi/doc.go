// Package pdi writes IHE PDI (Portable Data for Imaging) file-sets from a
// dicomscan.Index: to a folder with WriteDir, or streamed into a ZIP with
// WriteZip (the layout DLX downloads must have, PS3.12 Annex V).
//
// What a file-set written here guarantees:
//
//   - One DICOMDIR at the root: a Basic Directory IOD in Explicit VR Little
//     Endian with PATIENT, STUDY, SERIES and leaf records (IMAGE, or the
//     record type the SOP class calls for: SR DOCUMENT, KEY OBJECT DOC,
//     PRESENTATION, ENCAP DOC, WAVEFORM, RT ...), byte-exact offsets, and a
//     Specific Character Set on every record that carries text: ISO_IR 100
//     when its text fits Latin-1 (German umlauts do), ISO_IR 192 otherwise.
//   - Instances under DICOM/ with File IDs the writer makes up itself
//     (DICOM/PAT00001/STU00001/SER00001/IMG00001): upper case, at most 8
//     characters per component, no extensions. Paths from the Index never
//     reach a File ID.
//   - Every instance is re-written: the 128-byte preamble is zeroed
//     (PS3.10 §7.5, CVE-2019-11687: a preamble can hide an executable),
//     and the File Meta Information is written afresh: SOP Class and
//     Instance UID as the Index read them from the data set, the transfer
//     syntax from the file's meta (or the Index, or a look at the data when
//     the file had none). The data set is copied byte for byte.
//   - README.TXT (German and English) and INDEX.HTM at the root; documents
//     (Index.Documents, e.g. PDF reports) under IHE_PDI/, outside the
//     DICOMDIR. No executable is ever written: by name and by content.
//   - The DICOMDIR is written last, from what was actually written, so a
//     cancelled or failed run never leaves a folder that looks complete.
//   - With the same index, Options and build, the output is byte for byte
//     the same (whatever the number of CPUs), so a server can answer HTTP
//     Range requests by writing the ZIP again. Options.Time must be set
//     for that; zero means now.
//
// Directory records need some Type 1 keys the files may lack. They are
// filled like dcmmkdir +I does: Study Date and Time with Options.Time, Study
// ID with the study's number on the medium, Patient ID with the patient's
// File ID component, Modality with OT. The files themselves are not changed.
// A non-image instance whose file lacks a Type 1 key of its record type
// (an RT Plan without RT Plan Label, say) gets an IMAGE record instead of
// being left out. Records also carry Patient's Birth Date and Sex, Series
// Description and Referring Physician when known: dciodvfy reports them as
// warnings (a Standard Extended DICOMDIR), and they let a reader rebuild the
// whole Index from the DICOMDIR alone.
//
// Every ZIP entry is deflated at the fastest level (klauspost/compress,
// writers pooled), instances on every CPU at once (at most 2 per CPU in
// memory, none larger than 8 MiB; larger ones are streamed). Measured with bench/pdi.sh on the synthetic 2000-file CD
// (1 GB of 512x512 CT and 360x360 MR, two busy cores): deflate 50-70 MB/s
// of input, output 44 % of the source; store 1.7-2.3 GB/s, 100 %.
// Deflating is the faster download whenever the link is slower than about
// 70 MB/s (560 Mbit/s), true for patients at home, and the portal builds
// its ZIPs once, ahead of the download. Huffman-only deflate ran at
// 170 MB/s but gave 50 %; levels 2-3 were slower for 42 %. Instances that
// are already compressed (JPEG and friends) are deflated too: incompressible
// data passes at over 1 GB/s, and a stored entry in a streamed ZIP needs a
// data descriptor, which streaming readers such as Java's ZipInputStream
// reject for stored entries.
package pdi
