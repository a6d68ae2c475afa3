// Package bench holds the PyTorch twin of dream's world model
// (torch_twin.py), which `dream bench` runs to time PyTorch on the same
// training and imagination steps, the fixtures that hand it dream's
// models and batches (Fixture), the test that pins it to dream's training
// step term by term (twin_test.go), and the benchmark results of this
// machine (README.md, scaling.md and the plots).
package bench

import _ "embed"

//go:embed torch_twin.py
var torchTwin string

// TorchTwin returns the source of torch_twin.py, so that a dream binary
// can run it from anywhere (`python3 -c` or a temporary file).
func TorchTwin() string { return torchTwin }
