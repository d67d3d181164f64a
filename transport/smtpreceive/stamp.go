// stamp.go holds the Received: header exlab stamps and its build number and TLS wording.

package smtpreceive

import (
	"fmt"
	"strings"
	"time"

	"github.com/exlab/exlab/config"
)

// BuildNumber is the build exlab reports in Received: headers for each version (spec §9.1 [I]).
func BuildNumber(v config.ExchangeVersion) string {
	switch v {
	case config.Version2013:
		return "15.0.1497.2"
	case config.Version2016:
		return "15.1.2507.37"
	}
	return "15.2.1544.4"
}

// ReceivedHeader renders a Received: field as Exchange stamps it (spec §9.1), folded at about
// 78 columns with one leading space:
//
//	Received: from <helo> (<ip>) by <fqdn> (<local ip>) with Microsoft SMTP Server
//	 (version=TLS1_2, cipher=...) id 15.2.1544.4 [via Frontend Transport]; <date>
func ReceivedHeader(helo, ip, fqdn, localIP, tls string, version config.ExchangeVersion, viaFrontend bool, t time.Time) string {
	words := make([]string, 0, 24)
	words = append(words, "Received:", "from", helo, "("+ip+")", "by", fqdn, "("+localIP+")", "with", "Microsoft", "SMTP", "Server")
	if tls != "" {
		words = append(words, strings.Fields(tls)...)
	}
	words = append(words, "id", BuildNumber(version))
	if viaFrontend {
		words = append(words, "via", "Frontend", "Transport;")
	} else {
		words[len(words)-1] += ";"
	}
	words = append(words, BannerDate(t)) // the date is never split
	return Fold(words) + "\r\n"
}

// Fold joins words with spaces, breaking lines before a word that would pass 78 columns.
func Fold(words []string) string {
	var b strings.Builder
	n := 0
	for _, w := range words {
		n += len(w) + 3
	}
	b.Grow(n)
	col := 0
	for i, w := range words {
		if i > 0 {
			if col+1+len(w) > 78 {
				b.WriteString("\r\n ")
				col = 1
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

// TLSDescription renders the version/cipher part of a Received: header, e.g.
// "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)".
func TLSDescription(version uint16, cipher string) string {
	v := map[uint16]string{0x0301: "TLS1_0", 0x0302: "TLS1_1", 0x0303: "TLS1_2", 0x0304: "TLS1_3"}[version]
	if v == "" {
		return ""
	}
	return fmt.Sprintf("(version=%s, cipher=%s)", v, cipher)
}
