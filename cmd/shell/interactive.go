package shell

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/chzyer/readline"
)

// Prompt is the Exchange Management Shell's prompt (RemoteExchange.ps1 prints "[PS] " and the
// location, then ">").
const Prompt = `[PS] C:\Windows\system32>`

// continuationPrompt is PowerShell's prompt for the next line of an unfinished statement.
const continuationPrompt = ">> "

// incomplete reports whether a parse error only means the input stops early (an open brace,
// parenthesis or string), so the shell should read another line.
func incomplete(err error, src string) bool {
	var pe *ParseError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.ID {
	case "MissingEndCurlyBrace", "MissingEndParenthesisInExpression", "MissingEndParenthesisInSubexpression",
		"TerminatorExpectedAtEndOfString", "MissingStatementBlock", "EmptyPipeElement", "ExpectedValueExpression",
		"MissingEndParenthesisAfterStatement", "MissingStatementInHashLiteral":
	default:
		return false
	}
	// the error must be about the end of the input, not a stray token in the middle
	t := strings.TrimRight(src, " \t\r\n")
	if pe.ID == "EmptyPipeElement" || pe.ID == "ExpectedValueExpression" {
		return strings.HasSuffix(t, "|") || strings.HasSuffix(t, "=")
	}
	return true
}

// Interactive runs the read-eval-print loop: the prompt, one statement (or an unfinished one
// over several lines) at a time, output formatted after each. On a terminal it uses a line
// editor (chzyer/readline): history kept in historyFile (none when empty) and recalled with the
// arrow keys, Tab completion of cmdlet, parameter and variable names (Complete), Ctrl-C
// cancels the line, Ctrl-D on an empty line or `exit` leaves. When in is not a terminal (a
// pipe, a test) lines are read plainly, the prompt is still printed, and each entered line is
// appended to historyFile the same way. Errors go to out as well.
func (e *Engine) Interactive(ctx context.Context, in io.Reader, out io.Writer, historyFile string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f, ok := in.(*os.File); ok && readline.IsTerminal(int(f.Fd())) {
		return e.interactiveTerminal(ctx, f, out, historyFile)
	}
	return e.interactivePlain(ctx, in, out, historyFile)
}

// History is the session's command history, oldest first.
func (e *Engine) History() []string { return append([]string(nil), e.history...) }

func (e *Engine) runLine(ctx context.Context, src string, out io.Writer) (exit bool) {
	e.history = append(e.history, strings.TrimRight(src, "\r\n"))
	err := e.Run(ctx, src, out, out)
	var x *ExitError
	return e.exited || errors.As(err, &x)
}

// runInterruptible runs a line with Ctrl-C (SIGINT) cancelling it instead of ending the
// process, as the console host stops the running pipeline.
func (e *Engine) runInterruptible(ctx context.Context, src string, out io.Writer) bool {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-cctx.Done():
		}
	}()
	return e.runLine(cctx, src, out)
}

func (e *Engine) interactivePlain(ctx context.Context, in io.Reader, out io.Writer, historyFile string) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var hist *os.File
	if historyFile != "" {
		f, err := os.OpenFile(historyFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		hist = f
	}
	e.confirm = func(msg string) string {
		io.WriteString(out, confirmText(msg))
		if !sc.Scan() {
			return "n"
		}
		return answer(sc.Text())
	}
	e.readLine = func(prompt string) (string, bool) {
		io.WriteString(out, prompt)
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	defer func() { e.confirm, e.readLine = nil, nil }()
	var pending strings.Builder
	for {
		if pending.Len() == 0 {
			io.WriteString(out, Prompt)
		} else {
			io.WriteString(out, continuationPrompt)
		}
		if !sc.Scan() {
			return sc.Err()
		}
		line := sc.Text()
		pending.WriteString(line + "\n")
		src := pending.String()
		if strings.TrimSpace(src) == "" {
			pending.Reset()
			continue
		}
		if _, err := parseScript(src); err != nil && incomplete(err, src) && strings.TrimSpace(line) != "" {
			continue
		}
		pending.Reset()
		if hist != nil {
			io.WriteString(hist, strings.ReplaceAll(strings.TrimRight(src, "\n"), "\n", " ")+"\n")
		}
		if e.runLine(ctx, src, out) {
			return nil
		}
	}
}

type completer struct{ e *Engine }

// Do adapts Complete to readline: candidates are given without the part already typed.
func (c completer) Do(line []rune, pos int) ([][]rune, int) {
	s := string(line[:pos])
	word := currentWord(s)
	var out [][]rune
	for _, cand := range c.e.Complete(s, len(s)) {
		if len(cand) >= len(word) {
			out = append(out, []rune(cand[len(word):]))
		}
	}
	return out, len([]rune(word))
}

func (e *Engine) interactiveTerminal(ctx context.Context, in *os.File, out io.Writer, historyFile string) error {
	rl, err := readline.NewEx(&readline.Config{
		Prompt:          Prompt,
		HistoryFile:     historyFile,
		AutoComplete:    completer{e},
		InterruptPrompt: "^C",
		EOFPrompt:       "exit",
		Stdin:           in,
		Stdout:          out,
		Stderr:          out,
	})
	if err != nil {
		return err
	}
	defer rl.Close()
	e.confirm = func(msg string) string {
		rl.SetPrompt(confirmText(msg))
		defer rl.SetPrompt(Prompt)
		l, err := rl.Readline()
		if err != nil {
			return "n"
		}
		return answer(l)
	}
	e.readLine = func(prompt string) (string, bool) {
		rl.SetPrompt(prompt)
		defer rl.SetPrompt(Prompt)
		l, err := rl.Readline()
		return l, err == nil
	}
	defer func() { e.confirm, e.readLine = nil, nil }()
	var pending strings.Builder
	for {
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			pending.Reset()
			rl.SetPrompt(Prompt)
			continue
		}
		if err != nil { // io.EOF: Ctrl-D
			return nil
		}
		pending.WriteString(line + "\n")
		src := pending.String()
		if strings.TrimSpace(src) == "" {
			pending.Reset()
			continue
		}
		if _, perr := parseScript(src); perr != nil && incomplete(perr, src) && strings.TrimSpace(line) != "" {
			rl.SetPrompt(continuationPrompt)
			continue
		}
		pending.Reset()
		rl.SetPrompt(Prompt)
		if w := readline.GetScreenWidth(); w > 1 {
			// one less than the window, as the console host writes, so a full line never wraps
			e.Width = w - 1
		}
		if e.runInterruptible(ctx, src, rl.Stdout()) {
			return nil
		}
	}
}

// confirmText is PowerShell's ShouldProcess prompt.
func confirmText(msg string) string {
	return "\nConfirm\nAre you sure you want to perform this action?\n" + msg +
		"\n[Y] Yes  [A] Yes to All  [N] No  [L] No to All  [?] Help (default is \"Y\"): "
}

func answer(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return ""
	}
	return s[:1]
}

// currentWord is the word the cursor is in: back to a blank or one of | ; ( { , =.
func currentWord(s string) string {
	i := strings.LastIndexAny(s, " \t|;({,=")
	return s[i+1:]
}

// Complete returns the completions of the word before pos: cmdlet names in command position,
// parameter names after "-" (of the command being typed, with the common ones), variable names
// after "$". Matching is case-insensitive; each completion replaces the whole word.
func (e *Engine) Complete(line string, pos int) []string {
	if pos > len(line) {
		pos = len(line)
	}
	s := line[:pos]
	word := currentWord(s)
	lw := strings.ToLower(word)
	var out []string
	switch {
	case strings.HasPrefix(word, "$"):
		for _, n := range e.VariableNames() {
			if strings.HasPrefix(strings.ToLower(n), lw[1:]) {
				out = append(out, "$"+n)
			}
		}
	case strings.HasPrefix(word, "-"):
		cmd := e.lookup(commandOf(s[:len(s)-len(word)]))
		if cmd == nil {
			return nil
		}
		for _, p := range cmd.allParams() {
			if !p.hidden && strings.HasPrefix(strings.ToLower(p.Name), lw[1:]) {
				out = append(out, "-"+p.Name)
			}
		}
		return out // in the cmdlet's declaration order, as PowerShell cycles them
	default:
		before := strings.TrimRight(s[:len(s)-len(word)], " \t")
		if before != "" && !strings.HasSuffix(before, "|") && !strings.HasSuffix(before, ";") &&
			!strings.HasSuffix(before, "(") && !strings.HasSuffix(before, "{") {
			return nil
		}
		for _, c := range e.Cmdlets() {
			if strings.HasPrefix(strings.ToLower(c.Name), lw) || (strings.ContainsAny(word, "*?") && Like(c.Name, word+"*")) {
				out = append(out, c.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// commandOf is the command name of the pipeline element being typed.
func commandOf(s string) string {
	i := strings.LastIndexAny(s, "|;({")
	f := strings.Fields(s[i+1:])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
