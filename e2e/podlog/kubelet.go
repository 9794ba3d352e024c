package main

import (
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Names as kubelet's container log manager (pkg/kubelet/logs) gives them.
const (
	rotatedTimeFormat = "20060102-150405"
	compressSuffix    = ".gz"
	tmpSuffix         = ".tmp"
)

// rotatedName returns PATH.<YYYYMMDD-HHMMSS> for now, made unique with a
// -N suffix when a rotation in the same second already took that name.
func rotatedName(path string, now time.Time) (string, error) {
	base := path + "." + now.Format(rotatedTimeFormat)
	for i := 0; ; i++ {
		name := base
		if i > 0 {
			name += "-" + strconv.Itoa(i)
		}
		taken := false
		for _, n := range []string{name, name + compressSuffix} {
			if _, err := os.Lstat(n); err == nil {
				taken = true
			} else if !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
		}
		if !taken {
			return name, nil
		}
	}
}

// rotatedFiles lists PATH's rotated files, oldest first. Names sort by
// time once the .gz suffix is set aside (a -N suffix sorts after its
// second and before the next).
func rotatedFiles(path string) ([]string, error) {
	names, err := filepath.Glob(path + ".*")
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		if !strings.HasSuffix(n, tmpSuffix) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.TrimSuffix(out[i], compressSuffix) < strings.TrimSuffix(out[j], compressSuffix)
	})
	return out, nil
}

// compressAndPrune compresses every rotated file but the most recent (a
// reader may still be draining that one) and removes the oldest ones
// beyond maxFiles, PATH included.
func compressAndPrune(path string, maxFiles int) error {
	rotated, err := rotatedFiles(path)
	if err != nil {
		return err
	}
	for i, n := range rotated {
		if i == len(rotated)-1 || strings.HasSuffix(n, compressSuffix) {
			continue
		}
		if err := compressFile(n); err != nil {
			return err
		}
		rotated[i] = n + compressSuffix
	}
	for len(rotated)+1 > maxFiles {
		if err := os.Remove(rotated[0]); err != nil {
			return err
		}
		rotated = rotated[1:]
	}
	return nil
}

// compressFile gzips name into name.gz through a temporary file, then
// removes name, as kubelet's compressLog does.
func compressFile(name string) (err error) {
	in, err := os.Open(name)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := name + tmpSuffix
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(out)
	_, err = io.Copy(zw, in)
	if err = errors.Join(err, zw.Close(), out.Close()); err != nil {
		return err
	}
	if err = os.Rename(tmp, name+compressSuffix); err != nil {
		return err
	}
	return os.Remove(name)
}
