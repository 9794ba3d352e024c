package main

import (
	"io"
	"strconv"

	"github.com/docker/docker/daemon/logger"
	"github.com/docker/docker/daemon/logger/jsonfilelog"
)

// dockerRuntime is dockerd's logging path: a copier reads both streams,
// splitting lines at 16 KiB into partial messages, and the json-file
// logger writes and rotates (max-size, max-file, compress) the log.
type dockerRuntime struct {
	log logger.Logger
}

func newDockerRuntime(o runOptions) (*dockerRuntime, error) {
	cfg := map[string]string{}
	if o.rotateBytes > 0 {
		cfg["max-size"] = strconv.FormatInt(o.rotateBytes, 10)
		cfg["max-file"] = strconv.Itoa(o.maxFiles)
		cfg["compress"] = "true"
	}
	if err := jsonfilelog.ValidateLogOpt(cfg); err != nil {
		return nil, err
	}
	l, err := jsonfilelog.New(logger.Info{LogPath: o.log, Config: cfg})
	if err != nil {
		return nil, err
	}
	return &dockerRuntime{log: l}, nil
}

func (d *dockerRuntime) drain(stdout, stderr io.Reader) error {
	c := logger.NewCopier(map[string]io.Reader{"stdout": stdout, "stderr": stderr}, d.log)
	c.Run()
	c.Wait() // both sources at EOF, every message logged
	return nil
}

func (d *dockerRuntime) close() error { return d.log.Close() }
