// Package dicomscan finds every DICOM study on a medium: a folder or mounted
// CD, a ZIP, an ISO 9660 image, or a mixed list of dropped files.
//
// It prefers the medium's DICOMDIR and falls back to a full scan, reading
// only the header of each file, when the DICOMDIR is missing, broken or
// disagrees with the files. The result is an Index. Writing IHE PDI
// file-sets from an Index lives in the subpackage pdi.
package dicomscan
