// A tiny HTTP service: imageforge's multi-stage example (Go toolchain -> static binary).
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from a 15 MB image built by imageforge")
	})
	// As a container's PID 1 a process gets only the signals it handles: exit on
	// SIGTERM and SIGINT (docker stop, Ctrl-C), also under qemu-user for another
	// architecture, where the default action would leave the service running.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-stop
		os.Exit(0)
	}()
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
