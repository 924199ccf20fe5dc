// Package envelope builds and opens Bildbote's send container: the studies
// of a patient CD, a manifest describing them, compressed and encrypted to
// a clinic's community key.
//
// # Format, version 1
//
// An envelope is an age (https://age-encryption.org/v1) file encrypted to
// the community's X25519 recipients. Its plaintext is a zstd stream
// (RFC 8878) of one POSIX tar archive (PAX where needed). The stream may
// consist of several frames (Seal writes one per 4 MiB of tar, compressed
// in parallel); readers decode the frames one after another as one
// stream. Frames written since issue 16 carry no content checksum (age
// authenticates every byte, the manifest lists every file's SHA-256);
// readers must accept frames with and without one. The tar holds, in this
// order:
//
//  1. manifest.json — the Manifest as JSON (UTF-8), at most 32 MiB;
//     "format" is "bildbote-envelope" and "version" is 1;
//  2. files/<path> — one regular file per Manifest.Files entry, in the
//     manifest's order, path relative to the medium's root, slash
//     separated, size and SHA-256 as listed.
//
// Nothing else: no directories, links or devices. Readers must reject
// other entries, duplicates, files missing from or not listed in the
// manifest, and any size or hash mismatch.
//
// Already-compressed pixel data (JPEG, JPEG-LS, JPEG 2000, RLE, MPEG) is
// not stored apart: zstd's fastest level detects incompressible blocks and
// stores them raw, measured at ~1.7 GB/s per core here (256 MiB of random
// bytes in 0.15 s CPU) — far above any upload line, so a second,
// uncompressed section would add format complexity for nothing.
// Uncompressed CT/MR (the generator's CD) shrinks to ~45 % (BenchmarkSeal).
//
// # What is guaranteed
//
// Seal writes only ciphertext to disk (the spool file); plaintext exists
// only in memory, in bounded buffers. Before writing it checks that the
// spool's file system has room for an upper bound of the envelope size
// (see EstimateSize). Open extracts into a new directory that exists only
// after every file was written and verified, and after the age stream was
// authenticated to its very end; on any error nothing is left behind.
//
// # What is not guaranteed
//
// age authenticates no sender: anyone who knows a community's public key
// can produce an envelope for it, and the Sender in the manifest is only
// what the sender typed. A flipped byte is detected (age authenticates
// every 64 KiB chunk and the end of the stream); who made the envelope is
// not. ReadManifest authenticates the chunks holding the manifest, not the
// rest of the file.
package envelope
