package diskspace

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

func TestCheckAndMap(t *testing.T) {
	dir := t.TempDir()
	free, err := Free(dir)
	if err != nil || free <= 0 {
		t.Fatalf("Free = %d, %v", free, err)
	}
	if err := Check(dir, 1); err != nil {
		t.Fatalf("one byte does not fit: %v", err)
	}
	err = Check(dir, free+1<<40)
	var fe *FullError
	if !errors.As(err, &fe) || fe.Need != free+1<<40 || !IsFull(err) {
		t.Fatalf("Check beyond free space: %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.disk.too_small" || ue.Kind != i18n.KindRefused {
		t.Fatalf("user error: %v", err)
	}

	write := fmt.Errorf("write x: %w", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
	mapped := Map(dir, write)
	if !errors.As(mapped, &fe) || !errors.Is(mapped, syscall.ENOSPC) || !IsFull(write) {
		t.Fatalf("Map(ENOSPC) = %v", mapped)
	}
	if ue, ok := i18n.AsUserError(mapped); !ok || ue.Key != "transfer.disk.full" {
		t.Fatalf("user error: %v", mapped)
	}
	other := errors.New("permission denied")
	if Map(dir, other) != other || IsFull(other) || Map(dir, nil) != nil {
		t.Fatal("Map changed an unrelated error")
	}
}
