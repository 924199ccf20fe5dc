package faultproxy

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
)

func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestPassThroughAndCuts(t *testing.T) {
	p, err := New(echoServer(t), Options{Cuts: 2, MinBytes: 1000, MaxBytes: 2000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	data := make([]byte, 100<<10)
	rand.Read(data)
	roundTrip := func() (int, error) {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			return 0, err
		}
		defer c.Close()
		go func() { c.Write(data); c.(*net.TCPConn).CloseWrite() }()
		got, err := io.ReadAll(c)
		if err == nil && !bytes.Equal(got, data) {
			return len(got), io.ErrUnexpectedEOF
		}
		return len(got), err
	}
	for i := 0; i < 2; i++ {
		if n, err := roundTrip(); err == nil && n == len(data) {
			t.Fatalf("connection %d was not cut", i)
		}
	}
	if n, err := roundTrip(); err != nil || n != len(data) {
		t.Fatalf("after the cuts: %d bytes, %v", n, err)
	}
	if p.Cuts() != 2 {
		t.Fatalf("Cuts() = %d", p.Cuts())
	}
}
