package cli

import "io"

// bildbote-cli scan [--json] PATH…
func runScan(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("scan")
	cf.register(fs, false)
	paths, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(paths) == 0 {
		return e.usageError("cli.missing-path")
	}
	core, pr, code := e.openCore(&cf)
	if core == nil {
		return code
	}
	defer core.Close()
	ix, err := core.Scan(e.ctx, paths, pr.Scan)
	pr.Done()
	if err != nil {
		return pr.Error(err)
	}
	defer core.Release(ix)
	pr.Result(ix, func(w io.Writer) { ix.WriteTree(w, e.lang) })
	return ExitOK
}
