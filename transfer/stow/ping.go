package stow

import (
	"context"
	"io"
	"net/http"
	"strings"
)

// Ping checks that Base is a DICOMweb service: a QIDO-RS search
// GET {Base}/studies?limit=1 asking for application/dicom+json, which
// stores nothing. The same base serves STOW-RS (POST {Base}/studies), so
// a working search is a good sign that storing will work. It returns the
// answer's status (200, or 204 when the PACS holds no study yet, mean
// yes); err is a request that could not be made or got no answer. At
// most 64 KiB of the answer are read.
func (c *Client) Ping(ctx context.Context) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.Base, "/")+"/studies?limit=1", nil)
	if err != nil {
		return 0, err
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/dicom+json")
	resp, err := c.http().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
