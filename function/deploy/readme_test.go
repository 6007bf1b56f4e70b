package deploy_test

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

const readmePath = "../../README.md"

// readmeSection is what a renderer makes of one level-2 section of the
// README: the tables it holds (their header cells) and its code blocks.
type readmeSection struct {
	tables [][]string
	code   []string
}

// renderREADME parses the README as GitHub does (CommonMark plus GFM
// tables) and groups tables and code blocks by the level-2 heading above
// them, in heading order.
func renderREADME(t *testing.T) (headings []string, sections map[string]*readmeSection) {
	t.Helper()
	src, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	doc := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser().Parse(text.NewReader(src))
	sections = map[string]*readmeSection{"": {}}
	current := sections[""]
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		switch n := n.(type) {
		case *ast.Heading:
			if n.Level == 2 {
				title := plainText(n, src)
				headings = append(headings, title)
				current = &readmeSection{}
				sections[title] = current
			}
		case *east.Table:
			var header []string
			if h := n.FirstChild(); h != nil {
				for c := h.FirstChild(); c != nil; c = c.NextSibling() {
					header = append(header, plainText(c, src))
				}
			}
			current.tables = append(current.tables, header)
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			var b strings.Builder
			lines := n.Lines()
			for i := 0; i < lines.Len(); i++ {
				seg := lines.At(i)
				b.Write(seg.Value(src))
			}
			current.code = append(current.code, b.String())
		}
	}
	return headings, sections
}

// plainText is the text of n's inline children, code spans included.
func plainText(n ast.Node, src []byte) string {
	var b bytes.Buffer
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			b.Write(t.Segment.Value(src))
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// TestREADMERendersItsSections: a code fence left open (or closed with text
// after it, which CommonMark reads as an opening fence) swallows every
// section after it into one code block.
func TestREADMERendersItsSections(t *testing.T) {
	headings, sections := renderREADME(t)
	for _, want := range []string{"Tests", "Configuration", "The policy", "Results", "RAM policy", "Layout"} {
		if !slices.Contains(headings, want) {
			t.Errorf("README renders no heading %q; headings: %q", want, headings)
		}
	}
	tables := map[string]string{ // section -> first header cell of a table in it
		"Configuration": "variable",
		"Results":       "action",
		"Layout":        "path",
	}
	for section, firstCell := range tables {
		s := sections[section]
		if s == nil || !slices.ContainsFunc(s.tables, func(h []string) bool { return len(h) > 0 && h[0] == firstCell }) {
			t.Errorf("README section %q renders no table headed %q", section, firstCell)
		}
	}
	for section, s := range sections {
		for _, code := range s.code {
			for line := range strings.Lines(code) {
				if strings.HasPrefix(line, "## ") {
					t.Errorf("README section %q: heading %q is inside a code block", section, strings.TrimSpace(line))
				}
			}
		}
	}
}
