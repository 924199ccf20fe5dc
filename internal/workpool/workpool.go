// Package workpool runs numbered work items on a few goroutines that each
// keep state of their own (a read buffer, a writer), and stops handing out
// work at the first error. The sealing pass and de-identification share it.
package workpool

import (
	"context"
	"sync"
)

// Run calls a worker for every item 0..n-1 on workers goroutines. Each
// goroutine gets its own function from newWorker, so state such as a
// buffer lives once per goroutine, not once per item. Run returns the
// first error a worker returned, or ctx's error when ctx ends first;
// items not handed out by then are not run. It returns when every
// goroutine has finished.
func Run(ctx context.Context, n, workers int, newWorker func() func(i int) error) error {
	workers = max(1, min(workers, n))
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work := newWorker()
			for i := range jobs {
				if err := work(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case jobs <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}
