package main

// The CUDA backend registers itself as device "cuda" when imported, the way
// database/sql drivers do; without a GPU, --device cuda fails with a clear
// error and the CPU keeps working.
import _ "github.com/dllmgo/dllm/kernels"
