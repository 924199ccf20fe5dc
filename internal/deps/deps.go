//go:build tools

// Package deps pins the module's third-party packages while the code that
// uses them lands, so that go.sum stays complete and `go mod tidy` keeps them.
package deps

import (
	_ "filippo.io/age"
	_ "filippo.io/age/armor"
	_ "fyne.io/fyne/v2/app"
	_ "fyne.io/fyne/v2/test"
	_ "fyne.io/fyne/v2/widget"
	_ "github.com/BurntSushi/toml"
	_ "github.com/cenkalti/backoff/v4"
	_ "github.com/go-pdf/fpdf"
	_ "github.com/kdomanski/iso9660"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/makiuchi-d/gozxing"
	_ "github.com/makiuchi-d/gozxing/qrcode"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/suyashkumar/dicom"
	_ "github.com/tus/tusd/v2/pkg/filelocker"
	_ "github.com/tus/tusd/v2/pkg/filestore"
	_ "github.com/tus/tusd/v2/pkg/handler"
	_ "github.com/zalando/go-keyring"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/term"
	_ "golang.org/x/text/encoding/charmap"
	_ "golang.org/x/text/language"
)
