// Package dicomscan finds every DICOM study on a medium: a folder or mounted
// CD, a ZIP, an ISO 9660 image, or a mixed list of dropped files.
//
//	m, err := dicomscan.Open(paths...)       // folder, ZIP, ISO, files: one fs.FS
//	defer m.Close()
//	ix, err := dicomscan.Scan(ctx, m, dicomscan.Options{Progress: p})
//	ix.WriteTree(os.Stdout, lang)            // or json.Marshal(ix)
//	f, err := ix.FS().Open(ix.Patients[0].Studies[0].Series[0].Instances[0].Path)
//
// Scan prefers the medium's DICOMDIR (at the root, or one per top-level
// folder) and falls back to a full scan, reading only the header of each
// file, when the DICOMDIR is missing, broken or disagrees with the files;
// Index.FallbackReason and a "dicomdir-fallback" warning then say why.
//
// What is guaranteed:
//   - No input makes the reader panic, hang, or allocate more than the file
//     holds: every declared length is checked against the file size, values
//     longer than 64 KiB are skipped, never read, and sequence nesting is
//     bounded. Where it cannot seek (ZIP entries) or the size is unknown
//     (deflated datasets), it reads at most 64 MiB of a file, so deflate
//     bombs end early. Memory does not grow with file sizes, only with the
//     number of indexed files (a few hundred bytes each).
//   - Pixel data is never read. The full scan reads each file up to the
//     attributes the index needs, then skips (by seeking) to the pixel data
//     element to check that its declared length fits in the file.
//   - DICOMDIR offsets are not trusted: records are read in file order and
//     the offsets are used only when they form a loop-free tree that
//     reaches every record. Referenced files are resolved case-insensitively
//     and without ISO 9660 version suffixes (";1"), only inside the medium,
//     and checked by a stat plus one header read per series.
//   - Text is UTF-8, decoded per dataset (and per DICOMDIR record) from its
//     Specific Character Set: ISO_IR 100-203 single-byte sets, ISO_IR 192,
//     GB18030/GBK, and ISO 2022 escapes for Japanese, Korean and Chinese.
//     Undecodable bytes become U+FFFD.
//   - Problems with single files never fail a scan: each file not indexed is
//     in Index.Skipped with a code (Skip*) and an English reason; PDFs and
//     JPEG/PNG pictures are Documents. Symbolic links are not followed.
//   - The index is sorted and does not depend on the number of workers.
//
// ISO images are read with github.com/kdomanski/iso9660 v0.4.0: ISO 9660
// levels 1-3 and Rock Ridge names, but not Joliet (a Joliet-only image shows
// its primary 8.3 names, which DICOM CDs use anyway) and not files recorded
// in several extents (over 4 GiB). ZIPs are read with archive/zip; entries
// named with "../" appear inside the medium, never outside. Writing IHE PDI
// file-sets from an Index lives in the subpackage pdi.
package dicomscan
