package dimse

import (
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/bildbote/bildbote/internal/i18n"
)

// Result is what became of one file.
type Result struct {
	Path           string
	SOPClassUID    string
	SOPInstanceUID string
	TransferSyntax string // the file's
	// SentAs is the transfer syntax on the wire ("" when not sent);
	// Converted is true when the data set was re-encoded (explicit to
	// implicit VR little endian) because the SCP accepted only that.
	SentAs    string
	Converted bool
	// Responded is true when the SCP answered with a C-STORE-RSP; then
	// Status and ErrorComment are its own.
	Responded    bool
	Status       Status
	ErrorComment string
	// Err is nil for success and warnings; otherwise an *i18n.UserError
	// saying why the instance is not stored (refused context, failure
	// status, not a DICOM file, connection lost before or during it).
	Err error
}

// Stored reports whether the SCP confirmed the instance (success or warning).
func (r Result) Stored() bool { return r.Responded && r.Status.Severity() != Failure }

// proposal is the transfer syntaxes proposed for an instance stored in ts.
// Uncompressed explicit VR little endian may go as implicit and big
// endian as either little endian (we convert); implicit goes as it is
// (the reverse needs a data dictionary); any other
// syntax is offered alone, as Bildbote does not decompress: an SCP that
// picked an uncompressed syntax for a JPEG file could not be served.
func proposal(ts string) []string {
	switch ts {
	case ExplicitVRLittleEndian:
		return []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian}
	case ExplicitVRBigEndian, DeflatedExplicitVRLE:
		return []string{ts, ExplicitVRLittleEndian, ImplicitVRLittleEndian}
	default:
		return []string{ts}
	}
}

type ctxKey struct{ class, ts string }

// Store sends one instance on an established association. The
// presentation context for its SOP class and transfer syntax must have
// been proposed (see ContextsFor). Errors that end the association are
// returned; everything about the instance itself is in the Result.
func (a *Association) Store(inst *Instance) (Result, error) {
	res := Result{Path: inst.Path, SOPClassUID: inst.SOPClassUID, SOPInstanceUID: inst.SOPInstanceUID, TransferSyntax: inst.TransferSyntax}
	var pcID byte
	var accepted string
	var why byte = PCNoReason
	for id, pc := range a.proposed {
		if pc.AbstractSyntax != inst.SOPClassUID || strings.Join(pc.TransferSyntaxes, "\\") != strings.Join(proposal(inst.TransferSyntax), "\\") {
			continue
		}
		pcID = id
		accepted, why = a.acceptedSyntax(id)
		break
	}
	if pcID == 0 {
		return res, fmt.Errorf("dimse: no context proposed for %s in %s", inst.SOPClassUID, inst.TransferSyntax)
	}
	if accepted == "" {
		if why == PCAbstractSyntaxUnsupported {
			res.Err = i18n.NewError(i18n.KindRefused, "dimse.instance.class_refused", inst.SOPClassUID)
		} else {
			res.Err = i18n.NewError(i18n.KindRefused, "dimse.instance.ts_refused", inst.Path, SyntaxName(inst.TransferSyntax))
		}
		return res, nil
	}
	f, err := os.Open(inst.Path)
	if err != nil {
		res.Err = err
		return res, nil
	}
	defer f.Close()
	var data io.Reader = io.NewSectionReader(f, inst.DataOffset, inst.DataLength)
	n := inst.DataLength
	switch {
	case accepted == inst.TransferSyntax:
	case inst.TransferSyntax == ExplicitVRLittleEndian && accepted == ImplicitVRLittleEndian,
		(inst.TransferSyntax == ExplicitVRBigEndian || inst.TransferSyntax == DeflatedExplicitVRLE) &&
			(accepted == ImplicitVRLittleEndian || accepted == ExplicitVRLittleEndian):
		if inst.TransferSyntax == DeflatedExplicitVRLE {
			data = io.LimitReader(flate.NewReader(data), maxInflated+1)
		}
		raw, err := io.ReadAll(data)
		if err == nil && len(raw) > maxInflated {
			err = fmt.Errorf("inflates to more than %d bytes", maxInflated)
		}
		if err != nil {
			res.Err = i18n.NewError(i18n.KindInput, "dimse.instance.not_dicom", inst.Path).Wrap(err)
			return res, nil
		}
		var conv []byte
		switch {
		case inst.TransferSyntax == ExplicitVRBigEndian:
			conv, err = BigToLittle(raw, accepted == ExplicitVRLittleEndian)
		case accepted == ExplicitVRLittleEndian: // inflated
			conv = raw
		default:
			conv, err = ExplicitToImplicit(raw)
		}
		if err != nil {
			res.Err = i18n.NewError(i18n.KindInput, "dimse.instance.not_dicom", inst.Path).Wrap(err)
			return res, nil
		}
		data, n = bytesReader(conv), int64(len(conv))
		res.Converted = true
	default:
		res.Err = i18n.NewError(i18n.KindRefused, "dimse.instance.ts_refused", inst.Path, SyntaxName(inst.TransferSyntax))
		return res, nil
	}
	if n%2 != 0 {
		if accepted != DeflatedExplicitVRLE {
			// DICOM values have even lengths; an SCP aborts the whole
			// association on an odd fragment, losing the instances after it.
			res.Err = i18n.NewError(i18n.KindInput, "dimse.instance.odd_length", inst.Path, n)
			return res, nil
		}
		// A deflated stream of odd length gets one trailing zero (PS3.5 A.5).
		data, n = io.MultiReader(data, bytesReader([]byte{0})), n+1
	}
	res.SentAs = accepted
	rsp, err := a.roundTrip(pcID, storeRQ(a.nextID(), inst.SOPClassUID, inst.SOPInstanceUID), cmdCStoreRSP, data, n)
	if err != nil {
		err = a.userErr(err)
		res.Err = err
		return res, err
	}
	st, _ := rsp.u16(tagStatus)
	res.Responded = true
	res.Status = Status(st)
	res.ErrorComment = rsp.str(tagErrorComment)
	if res.Status.Severity() == Failure {
		comment := ""
		if res.ErrorComment != "" {
			comment = ": " + res.ErrorComment
		}
		res.Err = i18n.NewError(i18n.KindRefused, "dimse.instance.failed", st, comment)
	}
	return res, nil
}

// ContextsFor returns the presentation contexts for the instances: one per
// SOP class and proposed transfer syntax set, in first-seen order.
func ContextsFor(insts []*Instance) []PresentationContext {
	seen := map[ctxKey]bool{}
	var out []PresentationContext
	for _, in := range insts {
		k := ctxKey{in.SOPClassUID, in.TransferSyntax}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, PresentationContext{AbstractSyntax: in.SOPClassUID, TransferSyntaxes: proposal(in.TransferSyntax)})
	}
	return out
}

// maxInflated bounds what a deflated data set may inflate to (a deflate
// bomb ends there).
const maxInflated = 1 << 30

// maxContexts is PS3.8's limit of presentation contexts per association.
const maxContexts = 128

// batches splits the instances in order so that each batch needs at most
// maxContexts contexts.
func batches(insts []*Instance) [][]*Instance {
	var out [][]*Instance
	var cur []*Instance
	keys := map[ctxKey]bool{}
	for _, in := range insts {
		k := ctxKey{in.SOPClassUID, in.TransferSyntax}
		if !keys[k] && len(keys) == maxContexts {
			out = append(out, cur)
			cur, keys = nil, map[ctxKey]bool{}
		}
		keys[k] = true
		cur = append(cur, in)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// StoreFiles sends the files to the SCP, as many per association as the
// 128 presentation contexts allow, in order; with cfg.Associations > 1
// the files are split into that many consecutive runs sent over parallel
// associations. It returns one Result per path, in the order given. The
// error is the first that ended an association early (an
// *i18n.UserError): the instances after it on that association have
// Results whose Err says they were not sent; other associations go on.
func StoreFiles(ctx context.Context, cfg Config, paths []string) ([]Result, error) {
	results := make([]Result, len(paths))
	var insts []*Instance
	index := map[*Instance]int{}
	for i, p := range paths {
		results[i].Path = p
		in, err := OpenInstance(p)
		if err != nil {
			if errors.Is(err, errNotPart10) {
				err = i18n.NewError(i18n.KindInput, "dimse.instance.not_dicom", p).Wrap(err)
			}
			results[i].Err = err
			continue
		}
		insts = append(insts, in)
		index[in] = i
	}
	n := max(1, min(cfg.Associations, len(insts)))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range n {
		run := insts[w*len(insts)/n : (w+1)*len(insts)/n]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = storeRun(ctx, cfg, run, func(in *Instance, r Result) { results[index[in]] = r })
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// storeRun sends insts over one association after the other (a new one
// per 128 contexts) and reports each Result.
func storeRun(ctx context.Context, cfg Config, insts []*Instance, report func(*Instance, Result)) error {
	var first error
	for _, batch := range batches(insts) {
		if first != nil {
			for _, in := range batch {
				report(in, notSent(in, first))
			}
			continue
		}
		a, err := Dial(ctx, cfg, ContextsFor(batch))
		if err != nil {
			first = err
			for _, in := range batch {
				report(in, notSent(in, err))
			}
			continue
		}
		for j, in := range batch {
			r, err := a.Store(in)
			report(in, r)
			if err != nil {
				first = err
				for _, rest := range batch[j+1:] {
					report(rest, notSent(rest, err))
				}
				break
			}
		}
		if first == nil {
			// Everything was confirmed; a release that goes wrong loses
			// nothing.
			_ = a.Release()
		}
	}
	return first
}

func notSent(in *Instance, cause error) Result {
	return Result{Path: in.Path, SOPClassUID: in.SOPClassUID, SOPInstanceUID: in.SOPInstanceUID, TransferSyntax: in.TransferSyntax,
		Err: i18n.NewError(i18n.KindTransient, "dimse.instance.not_sent").Wrap(cause)}
}

// SyntaxName is a short name for a transfer syntax UID, or the UID.
func SyntaxName(ts string) string {
	names := map[string]string{
		ImplicitVRLittleEndian:   "Implicit VR Little Endian",
		ExplicitVRLittleEndian:   "Explicit VR Little Endian",
		ExplicitVRBigEndian:      "Explicit VR Big Endian",
		DeflatedExplicitVRLE:     "Deflated Explicit VR Little Endian",
		"1.2.840.10008.1.2.4.50": "JPEG Baseline",
		"1.2.840.10008.1.2.4.51": "JPEG Extended",
		"1.2.840.10008.1.2.4.57": "JPEG Lossless",
		"1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
		"1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
		"1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
		"1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
		"1.2.840.10008.1.2.4.91": "JPEG 2000",
		"1.2.840.10008.1.2.5":    "RLE Lossless",
	}
	if n, ok := names[ts]; ok {
		return n
	}
	return ts
}
