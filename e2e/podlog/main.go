// Command podlog plays a Kubernetes node for the end-to-end tests: a
// container runtime that writes a container's output with the runtimes' own
// loggers (containerd's CRI logger, docker's json-file logger), and an agent
// container that prints agentex spans mixed with ordinary logs.
//
//	podlog run --format cri|docker --log PATH [--rotate-bytes N] [--max-files 5] [--rotate-wait 100ms] -- CMD ARGS...
//	podlog pod --spans N --seed S [--big-fraction 0.05] [--start-only-fraction 0.02] [--applog-fraction 0.5] [--rate R] --expect FILE
//
// It is a nested module: the loggers pull in large dependency trees that the
// shipper itself never links.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var (
		code int
		err  error
	)
	switch os.Args[1] {
	case "run":
		code, err = runMain(os.Args[2:])
	case "pod":
		err = podMain(os.Args[2:])
	default:
		usage()
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "podlog %s: %v\n", os.Args[1], err)
		os.Exit(2)
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  podlog run --format cri|docker --log PATH [--rotate-bytes N] [--max-files 5] [--rotate-wait 100ms] -- CMD ARGS...
  podlog pod --spans N --seed S [--big-fraction 0.05] [--start-only-fraction 0.02] [--applog-fraction 0.5] [--rate R] --expect FILE
`)
	os.Exit(2)
}
