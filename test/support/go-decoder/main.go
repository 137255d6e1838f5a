// Oracle for the ambassador's tests: decodes auth request bodies exactly as Mender's deviceauth does (Go's
// encoding/json into its AuthReq struct, then id_data normalised with a map[string]interface{} round trip and the
// pubkey read with pem.Decode + x509.ParsePKIXPublicKey), and prints what Go saw. Standard library only.
//
// Usage: go-decoder bodies < JSON array of base64 bodies   → JSON array of results
//
//	go-decoder fold                                     → JSON array of non-ASCII runes that fold to ASCII
package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"unicode"
)

// Mender's model.AuthReq, field for field.
type authReq struct {
	IdData      string `json:"id_data"`
	TenantToken string `json:"tenant_token"`
	PubKey      string `json:"pubkey"`
}

type result struct {
	DecodeErr   string         `json:"decodeErr"`
	IdData      string         `json:"idData"`
	TenantToken string         `json:"tenantToken"`
	PubKey      string         `json:"pubkey"`
	Keys        []string       `json:"keys"`
	Matches     map[string]int `json:"matches"`
	Depth       int            `json:"depth"`
	Identity    string         `json:"identity"`
	IdentityErr string         `json:"identityErr"`
	SpkiB64     string         `json:"spki"`
	PubKeyErr   string         `json:"pubkeyErr"`
}

// fieldOf asks Go itself which struct field a key lands in: decode {key: "probe"} and look.
func fieldOf(key string) string {
	probe, _ := json.Marshal(map[string]string{key: "probe"})
	var r authReq
	if json.Unmarshal(probe, &r) != nil {
		return ""
	}
	switch "probe" {
	case r.IdData:
		return "id_data"
	case r.TenantToken:
		return "tenant_token"
	case r.PubKey:
		return "pubkey"
	}
	return ""
}

// topLevel lists the top-level keys of a valid JSON object (as Go unquotes them) and the deepest nesting.
func topLevel(body []byte, res *result) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	depth := 0
	wantKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
				if depth > res.Depth {
					res.Depth = depth
				}
				if depth == 1 {
					wantKey = d == '{'
				}
			} else {
				depth--
				if depth == 1 {
					wantKey = true
				}
			}
			continue
		}
		if depth != 1 {
			continue
		}
		if key, ok := tok.(string); ok && wantKey {
			res.Keys = append(res.Keys, key)
			if f := fieldOf(key); f != "" {
				res.Matches[f]++
			}
			wantKey = false
		} else {
			wantKey = true
		}
	}
}

func decode(body []byte) result {
	res := result{Matches: map[string]int{}, Keys: []string{}}
	var req authReq
	if err := json.Unmarshal(body, &req); err != nil {
		res.DecodeErr = err.Error()
		return res
	}
	res.IdData, res.TenantToken, res.PubKey = req.IdData, req.TenantToken, req.PubKey
	if bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
		topLevel(body, &res)
	}
	// utils.JsonSort
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(req.IdData), &m); err != nil {
		res.IdentityErr = err.Error()
	} else if out, err := json.Marshal(m); err != nil {
		res.IdentityErr = err.Error()
	} else {
		res.Identity = string(out)
	}
	// utils.ParsePubKey
	block, _ := pem.Decode([]byte(req.PubKey))
	if block == nil || block.Type != "PUBLIC KEY" {
		res.PubKeyErr = "cannot decode public key"
	} else if key, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		res.PubKeyErr = err.Error()
	} else if der, err := x509.MarshalPKIXPublicKey(key); err != nil {
		res.PubKeyErr = err.Error()
	} else {
		res.SpkiB64 = base64.StdEncoding.EncodeToString(der)
	}
	return res
}

func foldTable() []string {
	out := []string{}
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if f := unicode.ToUpper(unicode.ToLower(r)); f < 0x80 {
			out = append(out, fmt.Sprintf("%04X:%c", r, f))
		}
	}
	return out
}

func main() {
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if len(os.Args) > 1 && os.Args[1] == "fold" {
		_ = enc.Encode(foldTable())
		return
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var bodies []string
	if err := json.Unmarshal(input, &bodies); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	results := make([]result, 0, len(bodies))
	for _, b64 := range bodies {
		body, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		results = append(results, decode(body))
	}
	_ = enc.Encode(results)
}
