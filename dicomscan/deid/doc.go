// Package deid de-identifies DICOM files on the sender's machine, following
// DICOM PS3.15 Annex E, the Basic Application Level Confidentiality
// Profile, with the options users choose most (Retain Longitudinal
// Temporal Information with full or shifted dates, Retain Patient
// Characteristics, Retain Device Identity, Retain Institution Identity,
// Clean Descriptors, Retain UIDs, Retain Safe Private).
//
// The actions come from one data table, table_e1_1.tsv: every row of
// Table E.1-1 with its basic profile action and the action of each option
// column, and a first line naming where and from which edition it was
// taken (gen/gen_table.py makes it). Rows apply wherever their attribute
// appears, in sequences too.
//
// What is guaranteed:
//   - Pixel data, and every attribute the table does not name, is written
//     back byte for byte; the transfer syntax (deflated and big endian
//     included) is kept; the meta group length is recomputed and the
//     preamble zeroed.
//   - One Session maps each UID to one new UID (2.25. and a UUID made of
//     HMAC-SHA256 of a per-session random salt and the old UID), so
//     references between the files of a send stay resolvable; each patient
//     gets one date offset and one pseudonym.
//   - Patient Identity Removed (0012,0062) is YES, De-identification Method
//     (0012,0063) and its Code Sequence (0012,0064, CID 7050) name the
//     profile and options, Longitudinal Temporal Information Modified
//     (0028,0303) says what happened to dates.
//   - Private attributes are removed, except with KeepSafePrivate those in
//     SafePrivate.
//
// Combined action codes are resolved without looking up the attribute's
// Type in the IOD, by the choice that keeps the file valid for any Type:
// X/Z becomes Z, X/D, Z/D and X/Z/D become D (a dummy value of the VR;
// an attribute already empty stays empty), X/Z/U* becomes U (the sequence
// stays and the UIDs in it are replaced). D on a sequence keeps its items
// and replaces the text values in them by dummies (UIDs per the table,
// coded CS values kept). An overlay whose Overlay Data is removed is
// removed whole. With shifted dates every DA and DT value is shifted, not
// only the table's; times are kept.
//
// What is not done: the pixels are not looked at. Files with Burned In
// Annotation YES, modalities known for burned-in text and encapsulated
// documents get a Warning; the caller must show it before sending.
// Structured content, graphics and curves are removed or kept per the
// basic profile (the Clean Structured Content and Clean Graphics options
// are not offered).
package deid
