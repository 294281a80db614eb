"""A small, deterministic command interpreter for the simulated hosts (hosts.py).

It understands the commands the labs send through Run Command, State Manager and user data: files
(echo/printf with > and >>, cat, touch, mkdir, rm, cp, ls, test/[ -f/-d/-e ], grep), services
(systemctl start/stop/restart/enable/disable/is-active/is-enabled/status, service X start|stop|status), packages
(yum/dnf/apt-get/apt/zypper install/remove, rpm -q, dpkg -s), identity (hostname, whoami, id, uname), time
(sleep, which advances the invocation's lab time, uptime), `exit N`, `sudo`, `&&`, `||`, `;`, simple pipes into
grep/head/tail/wc, `$VAR` from `export`/assignments, and on Windows a few cmdlets (Write-Output, Get-Service,
Start-/Stop-/Restart-Service, Get-Content, Set-Content, Test-Path, Start-Sleep, exit).

Anything else answers as bash does for an unknown command (exit 127). It is a teaching model, not a shell:
notebooks say so.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from .hosts import Host, Service

# Packages the simulated repositories hold: name -> (version, services it brings, files it writes)
CATALOG: dict[str, tuple[str, tuple[str, ...], dict[str, str]]] = {
    "nginx": ("1.24.0", ("nginx",), {"/etc/nginx/nginx.conf": "worker_processes auto;\n"}),
    "httpd": ("2.4.62", ("httpd",), {"/etc/httpd/conf/httpd.conf": "Listen 80\n"}),
    "docker": ("25.0.8", ("docker",), {}),
    "amazon-cloudwatch-agent": ("1.300051.0", ("amazon-cloudwatch-agent",), {}),
    "amazon-ssm-agent": ("3.3.1142.0", (), {}),
    "git": ("2.47.1", (), {}),
    "jq": ("1.7.1", (), {}),
    "htop": ("3.2.1", (), {}),
    "tree": ("1.8.0", (), {}),
    "nodejs": ("20.19.0", (), {}),
    "java-17-amazon-corretto": ("17.0.13", (), {}),
    "postgresql15": ("15.10", (), {}),
    "redis6": ("6.2.14", ("redis6",), {}),
    "chrony": ("4.3", ("chronyd",), {}),
}
_AGENT_URL = re.compile(r"amazon-ssm-agent")


@dataclass
class Result:
    """What a script printed, its exit code and how long it took on the lab clock."""

    exit_code: int
    stdout: str
    stderr: str
    lab_seconds: float


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@dataclass
class _Out:
    code: int = 0
    out: str = ""
    err: str = ""


def run(host: Host, script: str | list[str]) -> Result:
    """Run a script (text or list of lines, as AWS-RunShellScript's `commands`) on the host."""
    lines = script if isinstance(script, list) else script.splitlines()
    state = _Interpreter(host)
    code = 0
    try:
        for raw in lines:
            for line in str(raw).splitlines():
                code = state.run_line(line)
    except _Exit as stop:
        code = stop.code
    except Exception as error:  # the interpreter's own limit: a failed command, never a crash of the caller
        state.err.append(f"the course's simulated shell could not run this: {error}\n")
        code = 1
    return Result(code, "".join(state.out), "".join(state.err), max(1.0, state.seconds))


class _Interpreter:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.out: list[str] = []
        self.err: list[str] = []
        self.seconds = 1.0
        self.env: dict[str, str] = {"HOME": "/root", "USER": "root"}
        self.last = 0

    # -- parsing ---------------------------------------------------------------------------------
    def run_line(self, line: str) -> int:
        line = line.strip()
        if not line or line.startswith("#"):
            return self.last
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
            lexer.whitespace_split = True
            lexer.commenters = "#"
            tokens = list(lexer)
        except ValueError as error:
            self.err.append(f"bash: syntax error: {error}\n")
            self.last = 2
            return 2
        # split into (operator, pipeline) pairs
        chain: list[tuple[str, list[list[str]]]] = []
        op, pipeline, words = ";", [], []
        for token in tokens:
            if token in (";", "&&", "||"):
                pipeline.append(words)
                chain.append((op, pipeline))
                op, pipeline, words = token, [], []
            elif token == "|":
                pipeline.append(words)
                words = []
            else:
                words.append(token)
        pipeline.append(words)
        chain.append((op, pipeline))
        for op, pipeline in chain:
            if (op == "&&" and self.last != 0) or (op == "||" and self.last == 0):
                continue
            if all(not w for w in pipeline):
                continue
            self.last = self._pipeline(pipeline)
        return self.last

    def _pipeline(self, pipeline: list[list[str]]) -> int:
        stdin: str | None = None
        result = _Out()
        for words in pipeline:
            words, target, append = self._redirection([self._expand(w) for w in words])
            result = self._command(words, stdin)
            if target is not None:
                self._write(target, result.out, append)
                result.out = ""
            stdin = result.out
        self.out.append(result.out)
        self.err.append(result.err)
        return result.code

    def _expand(self, word: str) -> str:
        def value(m: re.Match[str]) -> str:
            return str(self.last) if m.group(1) == "?" else self.env.get(m.group(1), "")

        return re.sub(r"\$\{?(\w+|\?)\}?", value, word)

    @staticmethod
    def _redirection(words: list[str]) -> tuple[list[str], str | None, bool]:
        """Drop redirections from the words; (words, file stdout goes to, append?). The tokenizer splits `2>&1`
        into `2`, `>&`, `1`; stderr redirections are dropped (the interpreter keeps stderr apart anyway)."""
        kept: list[str] = []
        target: str | None = None
        append = False
        i = 0
        while i < len(words):
            w, following = words[i], words[i + 1] if i + 1 < len(words) else None
            if w in (">", ">>") and following is not None:
                target, append = following, w == ">>"
                i += 2
            elif w == "&>" and following is not None:  # stdout and stderr to a file
                target, append = following, False
                i += 2
            elif w == "2" and following in (">", ">>", ">&") and i + 2 < len(words):  # 2>file, 2>>file, 2>&1
                i += 3
            elif w == ">&" and following is not None:  # >&2: stdout to stderr
                target, append = ("/dev/stderr" if following == "2" else target), True
                i += 2
            else:
                kept.append(w)
                i += 1
        return kept, target, append

    def _write(self, path: str, text: str, append: bool) -> None:
        if path == "/dev/null":
            return
        if path == "/dev/stderr":
            self.err.append(text)
            return
        files = self.host.files
        files[path] = (files.get(path, "") if append else "") + text

    # -- commands --------------------------------------------------------------------------------
    def _command(self, words: list[str], stdin: str | None) -> _Out:
        while words and words[0] in ("sudo", "nohup"):
            words = words[1:]
            if words and words[0] in ("-E", "-n"):
                words = words[1:]
        if not words:
            return _Out()
        if re.fullmatch(r"\w+=.*", words[0]):
            name, value = words[0].split("=", 1)
            self.env[name] = value
            return _Out()
        name, args = words[0], words[1:]
        if self.host.is_windows:
            handler = _WINDOWS.get(name.lower())
            if handler is None:
                return _Out(
                    1,
                    "",
                    f"{name} : The term '{name}' is not recognized as the name of a cmdlet, function, "
                    "script file, or operable program.\n",
                )
            return handler(self, args, stdin)
        handler = _LINUX.get(name)
        if handler is None:
            return _Out(127, "", f"bash: {name}: command not found\n")
        return handler(self, args, stdin)

    def sleep(self, seconds: float) -> None:
        self.seconds += max(0.0, seconds)


# -- Linux ---------------------------------------------------------------------------------------
def _echo(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    if args and args[0] == "-e":
        args = args[1:]
    return _Out(0, " ".join(args) + ("\n" if newline else ""))


def _printf(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    if not args:
        return _Out()
    text = args[0].replace("\\n", "\n").replace("\\t", "\t")
    try:
        return _Out(0, text % tuple(args[1:]) if "%" in text else text)
    except (TypeError, ValueError):
        return _Out(0, text)


def _cat(sh: _Interpreter, args: list[str], stdin: str | None) -> _Out:
    if not args:
        return _Out(0, stdin or "")
    out, err, code = [], [], 0
    for path in args:
        if path in sh.host.files:
            out.append(sh.host.files[path])
        else:
            err.append(f"cat: {path}: No such file or directory\n")
            code = 1
    return _Out(code, "".join(out), "".join(err))


def _touch(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    for path in args:
        sh.host.files.setdefault(path, "")
    return _Out()


def _mkdir(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    for path in (a for a in args if not a.startswith("-")):
        sh.host.files.setdefault(path.rstrip("/") + "/", "")
    return _Out()


def _rm(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    force = any(a.startswith("-") and "f" in a for a in args)
    for path in (a for a in args if not a.startswith("-")):
        removed = [p for p in sh.host.files if p == path or p.startswith(path.rstrip("/") + "/")]
        if not removed and not force:
            return _Out(1, "", f"rm: cannot remove '{path}': No such file or directory\n")
        for p in removed:
            del sh.host.files[p]
    return _Out()


def _cp(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    paths = [a for a in args if not a.startswith("-")]
    if len(paths) != 2:
        return _Out(1, "", "cp: missing destination file operand\n")
    if paths[0] not in sh.host.files:
        return _Out(1, "", f"cp: cannot stat '{paths[0]}': No such file or directory\n")
    sh.host.files[paths[1]] = sh.host.files[paths[0]]
    return _Out()


def _ls(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    paths = [a for a in args if not a.startswith("-")] or ["/root"]
    out = []
    for path in paths:
        prefix = path.rstrip("/") + "/"
        if path in sh.host.files:
            out.append(path)
            continue
        names = sorted(
            {p[len(prefix) :].split("/", 1)[0] for p in sh.host.files if p.startswith(prefix) and p != prefix}
        )
        if not names and prefix not in sh.host.files:
            return _Out(2, "", f"ls: cannot access '{path}': No such file or directory\n")
        out.extend(n for n in names if n)
    return _Out(0, "".join(n + "\n" for n in out))


def _test(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    args = [a for a in args if a != "]"]
    if len(args) == 2 and args[0] in ("-f", "-e", "-d", "-s"):
        path = args[1]
        if args[0] == "-d":
            found = any(p.startswith(path.rstrip("/") + "/") for p in sh.host.files)
        elif args[0] == "-s":
            found = bool(sh.host.files.get(path))
        else:
            found = path in sh.host.files or any(p.startswith(path.rstrip("/") + "/") for p in sh.host.files)
        return _Out(0 if found else 1)
    if len(args) == 3 and args[1] in ("=", "==", "!="):
        same = args[0] == args[2]
        return _Out(0 if same == (args[1] != "!=") else 1)
    if len(args) == 2 and args[0] in ("-n", "-z"):
        return _Out(0 if bool(args[1]) == (args[0] == "-n") else 1)
    return _Out(2, "", "test: unsupported expression in the course's simulated shell\n")


def _grep(sh: _Interpreter, args: list[str], stdin: str | None) -> _Out:
    flags = {a for a in args if a.startswith("-")}
    rest = [a for a in args if not a.startswith("-")]
    if not rest:
        return _Out(2, "", "Usage: grep [OPTION]... PATTERNS [FILE]...\n")
    pattern, files = rest[0], rest[1:]
    if files:
        text = ""
        for path in files:
            if path not in sh.host.files:
                return _Out(2, "", f"grep: {path}: No such file or directory\n")
            text += sh.host.files[path]
    else:
        text = stdin or ""
    try:
        regex = re.compile(pattern, re.IGNORECASE if "-i" in flags else 0)
    except re.error:
        regex = re.compile(re.escape(pattern))
    hits = [line for line in text.splitlines() if bool(regex.search(line)) != ("-v" in flags)]
    if "-c" in flags:
        return _Out(0 if hits else 1, f"{len(hits)}\n")
    return _Out(0 if hits else 1, "" if "-q" in flags else "".join(h + "\n" for h in hits))


def _head_tail(which: str):
    def run(sh: _Interpreter, args: list[str], stdin: str | None) -> _Out:
        count = 10
        for i, a in enumerate(args):
            if a == "-n" and i + 1 < len(args) and args[i + 1].isdigit():
                count = int(args[i + 1])
            elif re.fullmatch(r"-\d+", a):
                count = int(a[1:])
        paths = [a for a in args if not a.startswith("-") and not a.isdigit()]
        text = sh.host.files.get(paths[0], "") if paths else stdin or ""
        lines = text.splitlines(keepends=True)
        return _Out(0, "".join(lines[:count] if which == "head" else lines[-count:]))

    return run


def _wc(sh: _Interpreter, args: list[str], stdin: str | None) -> _Out:
    text = stdin or ""
    return _Out(
        0,
        f"{len(text.splitlines())}\n"
        if "-l" in args
        else f"{len(text.splitlines())} {len(text.split())} {len(text)}\n",
    )


def _hostname(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    return _Out(0, sh.host.computer_name + "\n")


def _uname(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    kernel = (
        "6.1.158-180.294.amzn2023.x86_64" if sh.host.platform_version == "2023" else "5.10.245-241.976.amzn2.x86_64"
    )
    if "-r" in args:
        return _Out(0, kernel + "\n")
    if "-a" in args:
        return _Out(0, f"Linux {sh.host.computer_name} {kernel} #1 SMP x86_64 GNU/Linux\n")
    return _Out(0, "Linux\n")


def _sleep(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    try:
        sh.sleep(float(args[0].rstrip("s")) if args else 0)
    except ValueError:
        return _Out(1, "", f"sleep: invalid time interval '{args[0]}'\n")
    return _Out()


def _exit(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    sh.out.append("")
    raise _Exit(int(args[0]) if args and args[0].lstrip("-").isdigit() else sh.last)


def _export(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    for a in args:
        if "=" in a:
            k, v = a.split("=", 1)
            sh.env[k] = v
    return _Out()


def _systemctl(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    now = "--now" in args
    args = [a for a in args if not a.startswith("-")]
    if not args:
        return _Out(1, "", "Too few arguments.\n")
    verb, units = args[0], [a.removesuffix(".service") for a in args[1:]]
    if verb == "daemon-reload":
        return _Out()
    out = _Out()
    for unit in units:
        if now and verb in ("enable", "disable"):
            _service_verb(sh, "start" if verb == "enable" else "stop", unit)
        one = _service_verb(sh, verb, unit)
        out.code = out.code or one.code
        out.out += one.out
        out.err += one.err
    return out


def _service_verb(sh: _Interpreter, verb: str, unit: str) -> _Out:
    service = sh.host.services.get(unit)
    if verb == "is-active":
        active = bool(service and service.running)
        return _Out(0 if active else 3, "active\n" if active else "inactive\n")
    if verb == "is-enabled":
        if service is None:
            return _Out(1, "", f"Failed to get unit file state for {unit}.service: No such file or directory\n")
        return _Out(0 if service.enabled else 1, "enabled\n" if service.enabled else "disabled\n")
    if service is None:
        if verb == "status":
            return _Out(4, "", f"Unit {unit}.service could not be found.\n")
        return _Out(5, "", f"Failed to {verb} {unit}.service: Unit {unit}.service not found.\n")
    if verb in ("start", "restart", "reload"):
        service.running = True
        sh.sleep(2)
    elif verb == "stop":
        service.running = False
    elif verb == "enable":
        was, service.enabled = service.enabled, True
        note = "" if was else f"Created symlink /etc/systemd/system/multi-user.target.wants/{unit}.service.\n"
        return _Out(0, "", note)
    elif verb == "disable":
        was, service.enabled = service.enabled, False
        return _Out(0, "", f"Removed /etc/systemd/system/multi-user.target.wants/{unit}.service.\n" if was else "")
    elif verb == "status":
        state = "active (running)" if service.running else "inactive (dead)"
        enabled = "enabled" if service.enabled else "disabled"
        text = (
            f"● {unit}.service\n     Loaded: loaded (/usr/lib/systemd/system/{unit}.service; {enabled})\n"
            f"     Active: {state}\n"
        )
        return _Out(0 if service.running else 3, text)
    else:
        return _Out(1, "", f"Unknown command verb {verb}.\n")
    return _Out()


def _service(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    if len(args) < 2:
        return _Out(1, "", "Usage: service < option > | --status-all | [ service_name [ command | --full-restart ] ]\n")
    return _service_verb(sh, args[1], args[0])


def _package_manager(tool: str):
    def run(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
        words = [a for a in args if not a.startswith("-")]
        if not words:
            return _Out(1, "", f"{tool}: no command given\n")
        verb, names = words[0], words[1:]
        if verb in ("install", "reinstall", "upgrade", "update") and names:
            return _install(sh, tool, names)
        if verb in ("update", "upgrade", "makecache", "check-update", "clean"):
            sh.sleep(5)
            return _Out(0, "Dependencies resolved.\nNothing to do.\nComplete!\n" if tool != "apt-get" else "")
        if verb in ("remove", "erase", "purge"):
            for name in names:
                sh.host.packages.pop(name, None)
                for unit in CATALOG.get(name, ("", (), {}))[1]:
                    sh.host.services.pop(unit, None)
            return _Out(0, "Removed:\n" + "".join(f"  {n}\n" for n in names) + "Complete!\n")
        if verb == "list" and "installed" in names:
            return _Out(0, "".join(f"{n}.x86_64  {v}\n" for n, v in sorted(sh.host.packages.items())))
        return _Out(1, "", f"{tool}: command '{verb}' is not supported by the course's simulated host\n")

    return run


def _install(sh: _Interpreter, tool: str, names: list[str]) -> _Out:
    out, err = [], []
    for raw in names:
        name = "amazon-ssm-agent" if _AGENT_URL.search(raw) else raw.split("/")[-1].removesuffix(".rpm")
        if name not in CATALOG:
            if tool in ("dnf", "yum") and sh.host.package_manager == "dnf":
                err.append(f"No match for argument: {name}\nError: Unable to find a match: {name}\n")
            elif tool in ("apt-get", "apt"):
                err.append(f"E: Unable to locate package {name}\n")
            else:
                err.append(f"No package {name} available.\nError: Nothing to do\n")
            return _Out(100 if tool.startswith("apt") else 1, "".join(out), "".join(err))
        version, services, files = CATALOG[name]
        sh.sleep(10)
        if name == "amazon-ssm-agent":
            sh.host.install_agent()
        elif name in sh.host.packages:
            out.append(f"Package {name}-{version} is already installed.\n")
            continue
        sh.host.packages[name] = version
        for unit in services:
            sh.host.services.setdefault(unit, Service(False, False))
        for path, text in files.items():
            sh.host.files.setdefault(path, text)
        out.append(f"Installed:\n  {name}-{version}.x86_64\n")
    out.append("Complete!\n")
    return _Out(0, "".join(out), "".join(err))


def _rpm(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    names = [a for a in args if not a.startswith("-")]
    out, code = [], 0
    for name in names:
        if name in sh.host.packages:
            out.append(f"{name}-{sh.host.packages[name]}.x86_64\n")
        else:
            out.append(f"package {name} is not installed\n")
            code = 1
    return _Out(code, "".join(out))


def _uptime(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    return _Out(0, " up 3 days,  2:14,  0 users,  load average: 0.08, 0.03, 0.01\n")


def _df(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    return _Out(0, "Filesystem      Size  Used Avail Use% Mounted on\n/dev/nvme0n1p1  8.0G  2.1G  5.9G  27% /\n")


def _true(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    return _Out()


def _false(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    return _Out(1)


_LINUX = {
    "echo": _echo,
    "printf": _printf,
    "cat": _cat,
    "touch": _touch,
    "mkdir": _mkdir,
    "rm": _rm,
    "cp": _cp,
    "ls": _ls,
    "test": _test,
    "[": _test,
    "grep": _grep,
    "head": _head_tail("head"),
    "tail": _head_tail("tail"),
    "wc": _wc,
    "hostname": _hostname,
    "uname": _uname,
    "sleep": _sleep,
    "exit": _exit,
    "export": _export,
    "systemctl": _systemctl,
    "service": _service,
    "yum": _package_manager("yum"),
    "dnf": _package_manager("dnf"),
    "apt-get": _package_manager("apt-get"),
    "apt": _package_manager("apt"),
    "zypper": _package_manager("zypper"),
    "snap": _package_manager("snap"),
    "rpm": _rpm,
    "dpkg": _rpm,
    "uptime": _uptime,
    "df": _df,
    "true": _true,
    "false": _false,
    ":": _true,
    "cd": _true,
    "chmod": _true,
    "chown": _true,
    "set": _true,
    "whoami": lambda sh, a, s: _Out(0, "root\n"),
    "id": lambda sh, a, s: _Out(0, "uid=0(root) gid=0(root) groups=0(root)\n"),
    "pwd": lambda sh, a, s: _Out(0, "/usr/bin\n"),
}


# -- Windows ---------------------------------------------------------------------------------------
def _ps_arg(args: list[str], name: str) -> str | None:
    for i, a in enumerate(args):
        if a.lower() == f"-{name.lower()}" and i + 1 < len(args):
            return args[i + 1]
    positional = [
        a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or not args[i - 1].startswith("-"))
    ]
    return positional[0] if positional else None


def _ps_service(verb: str):
    def run(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
        name = _ps_arg(args, "Name") or ""
        service = sh.host.services.get(name)
        if service is None:
            return _Out(1, "", f"{verb}-Service : Cannot find any service with service name '{name}'.\n")
        if verb == "Get":
            status = "Running" if service.running else "Stopped"
            return _Out(
                0,
                "\nStatus   Name               DisplayName\n------   ----               -----------\n"
                f"{status:<8} {name:<18} {name}\n",
            )
        service.running = verb in ("Start", "Restart")
        return _Out()

    return run


def _ps_content(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    path = _ps_arg(args, "Path") or ""
    if path not in sh.host.files:
        return _Out(1, "", f"Get-Content : Cannot find path '{path}' because it does not exist.\n")
    return _Out(0, sh.host.files[path])


def _ps_set_content(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    path, value = _ps_arg(args, "Path"), _ps_arg(args, "Value") or ""
    if path:
        sh.host.files[path] = value + "\n"
    return _Out()


def _ps_sleep(sh: _Interpreter, args: list[str], _: str | None) -> _Out:
    value = _ps_arg(args, "Seconds") or "0"
    sh.sleep(float(value) if value.replace(".", "").isdigit() else 0)
    return _Out()


_WINDOWS = {
    "write-output": _echo,
    "echo": _echo,
    "write-host": _echo,
    "hostname": _hostname,
    "get-service": _ps_service("Get"),
    "start-service": _ps_service("Start"),
    "stop-service": _ps_service("Stop"),
    "restart-service": _ps_service("Restart"),
    "get-content": _ps_content,
    "set-content": _ps_set_content,
    "test-path": lambda sh, a, s: _Out(0, "True\n" if (_ps_arg(a, "Path") or "") in sh.host.files else "False\n"),
    "start-sleep": _ps_sleep,
    "exit": _exit,
}
