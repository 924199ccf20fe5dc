// Command sendproxy is the emulated slow link of bench/send.sh: a TCP
// proxy on 127.0.0.1 with a bandwidth limit per direction (the test kit's
// faultproxy, without cuts). It prints its address and runs until killed.
//
//	sendproxy -target 127.0.0.1:8080 -mbit 50
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bildbote/bildbote/internal/testkit/faultproxy"
)

func main() {
	target := flag.String("target", "", "address to forward to (127.0.0.1:port)")
	mbit := flag.Float64("mbit", 50, "bandwidth per direction in Mbit/s")
	flag.Parse()
	if *target == "" {
		flag.Usage()
		os.Exit(2)
	}
	p, err := faultproxy.New(*target, faultproxy.Options{BytesPerSecond: int64(*mbit * 1e6 / 8)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sendproxy:", err)
		os.Exit(1)
	}
	fmt.Println(p.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	p.Close()
}
