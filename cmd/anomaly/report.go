package main

import "io"

func reportCmd(args []string, w io.Writer) error { return nil }
