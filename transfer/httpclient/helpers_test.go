package httpclient

import (
	"io"
	"log"
	"net/url"
)

func parse(s string) (*url.URL, error) { return url.Parse(s) }

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
