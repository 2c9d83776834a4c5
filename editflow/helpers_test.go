package editflow

import "github.com/dllmgo/dllm/lm"

func testSpec() lm.Spec {
	return lm.Spec{Family: "test", MaskID: 3, PadID: 0, BOSID: 1, EOSID: 2}
}
