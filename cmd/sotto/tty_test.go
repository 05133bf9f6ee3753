package main

import "os"

func openTTYForTest() (*os.File, error) { return os.OpenFile("/dev/tty", os.O_RDWR, 0) }
