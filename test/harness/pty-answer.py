# Runs a command on a pseudo-terminal and answers each prompt matching PROMPT with the next
# line of ANSWERS (newline-separated, from the environment), only once the prompt is shown,
# as a person would. Copies the terminal output to stdout; exits with the command's status.
import os, pty, re, sys

prompt = re.compile(os.environ["PTY_PROMPT"].encode())
answers = os.environ.get("PTY_ANSWERS", "").split("\n")
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
buf = b""
asked = 0
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    buf += data
    while prompt.search(buf):
        m = prompt.search(buf)
        buf = buf[m.end():]
        if asked < len(answers):
            os.write(fd, answers[asked].encode() + b"\r")
        asked += 1
_, status = os.waitpid(pid, 0)
sys.stderr.write("pty-answer: prompts=%d\n" % asked)
sys.exit(os.waitstatus_to_exitcode(status))
