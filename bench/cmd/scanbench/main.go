// Command scanbench times dicomscan on a folder for bench/scan.sh:
//
//	scanbench [-ignore-dicomdir] [-floor] [-with-floor] [-workers N] [-runs N] DIR
//
// It prints one line "seconds=S files=N method=M" (the best of -runs runs),
// or with -floor the time Go needs to read the first 16 KiB of every file,
// the lower bound of any header scan. -with-floor alternates scan and floor
// runs, so that both see the same load, and adds "floor=F" to the line.
// "cpu=C" is the least CPU time (user + system, all threads) of one scan
// run: on a shared machine it varies less with the load than the wall time.
// A developer tool: English, untranslated.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
)

func main() {
	ignore := flag.Bool("ignore-dicomdir", false, "full scan even when a DICOMDIR exists")
	floor := flag.Bool("floor", false, "only read the first 16 KiB of every file")
	withFloor := flag.Bool("with-floor", false, "alternate scan runs with floor runs and report both")
	workers := flag.Int("workers", 0, "parallel readers (0: dicomscan's default)")
	runs := flag.Int("runs", 3, "runs; the best is reported")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of all runs to this file")
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	dir := flag.Arg(0)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	best, bestFloor, bestCPU := time.Duration(1<<62), time.Duration(1<<62), time.Duration(1<<62)
	var line string
	for range *runs {
		if *withFloor {
			start := time.Now()
			if _, err := readHeads(dir, *workers); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			bestFloor = min(bestFloor, time.Since(start))
		}
		start, startCPU := time.Now(), cpuTime()
		var err error
		if *floor {
			var n int
			n, err = readHeads(dir, *workers)
			line = fmt.Sprintf("files=%d method=floor", n)
		} else {
			var ix *dicomscan.Index
			ix, err = scan(dir, *ignore, *workers)
			if err == nil {
				line = fmt.Sprintf("files=%d method=%s skipped=%d", ix.Files, ix.Method, len(ix.Skipped))
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if d := time.Since(start); d < best {
			best = d
		}
		bestCPU = min(bestCPU, cpuTime()-startCPU)
	}
	if *withFloor {
		line += fmt.Sprintf(" floor=%.4f", bestFloor.Seconds())
	}
	line += fmt.Sprintf(" cpu=%.4f", bestCPU.Seconds())
	fmt.Printf("seconds=%.4f %s\n", best.Seconds(), line)
}

func scan(dir string, ignore bool, workers int) (*dicomscan.Index, error) {
	m, err := dicomscan.Open(dir)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return dicomscan.Scan(context.Background(), m, dicomscan.Options{IgnoreDICOMDIR: ignore, Workers: workers})
}

// readHeads reads the first 16 KiB of every regular file with the same
// number of workers as the scan would use.
func readHeads(dir string, workers int) (int, error) {
	if workers <= 0 {
		workers = 8
	}
	paths := make(chan string, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 16<<10)
			for p := range paths {
				f, err := os.Open(p)
				if err != nil {
					continue
				}
				io.ReadFull(f, buf)
				f.Close()
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths <- p
		}
		return err
	})
	close(paths)
	wg.Wait()
	return n, err
}
