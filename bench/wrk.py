"""Load from ``wrk`` (Debian's package, installed here on first use if missing), with a Lua
script that sends pre-built requests in turn, so every request is a distinct event or call.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["WrkResult", "ensure_wrk", "request_lines", "run_wrk"]

LUA = r"""
local requests, counter, thread_id, threads = {}, 0, 0, 1
local all_threads = {}
local function now_ns() local f = io.popen("date +%s%N"); local v = f:read("*n"); f:close(); return v end
local function load(path)
  for line in io.lines(path) do
    local sep = line:find("\t", 1, true)
    requests[#requests + 1] = {headers = line:sub(1, sep - 1), body = line:sub(sep + 1)}
  end
end
function setup(thread)
  all_threads[#all_threads + 1] = thread
  thread:set("id", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end
local stop_after_all = false
function init(args)
  load(args[1]); threads = tonumber(args[2]); stop_after_all = args[3] == "once"; marker = args[4]
  target = tonumber(args[5])
  started_ns = now_ns()
end
local answered = 0
local upstream = {}  -- the Server-Timing "retell;dur=" of each answer, in ms
function response(status, headers, body)
  answered = answered + 1
  local timing = headers["Server-Timing"] or headers["server-timing"]
  local dur = timing and timing:match("dur=([%d%.]+)")
  if dur then upstream[#upstream + 1] = dur end
  if stop_after_all and answered * threads >= target then
    finished_ns = now_ns()
    if #upstream > 0 then
      local t = io.open(marker .. ".timing." .. id, "w"); t:write(table.concat(upstream, "\n")); t:close()
    end
    local f = io.open(marker, "a"); f:write("done " .. id .. "\n"); f:close()
    wrk.thread:stop()
  end
end
function request()
  local index = (counter * threads + id) % #requests + 1
  counter = counter + 1
  local item = requests[index]
  local headers = {["Content-Type"] = "application/json"}
  for name, value in item.headers:gmatch("([^=;]+)=([^;]*)") do headers[name] = value end
  return wrk.format("POST", wrk.path, headers, item.body)
end
function done(summary, latency, requests_)
  local first, last = nil, nil
  for _, t in ipairs(all_threads) do
    local s, f = t:get("started_ns"), t:get("finished_ns")
    if s and (first == nil or s < first) then first = s end
    if f and (last == nil or f > last) then last = f end
  end
  local duration = summary.duration
  if first and last and #all_threads > 0 then duration = (last - first) / 1000 end
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, "p50": %d, "p90": %d, "p99": %d}\n',
    summary.requests, duration, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non2xx: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    upstream_ms: tuple[float, ...] = field(
        default=(), repr=False
    )  # Server-Timing "retell" of each answer (``once`` runs)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def request_lines(lines: list[tuple[dict[str, str], str]]) -> str:
    """Requests as the Lua script (and ``bench.paced``) read them: ``k=v;k=v<TAB>body``."""
    return "".join(
        ";".join(f"{k}={v}" for k, v in headers.items()) + "\t" + body + "\n"
        for headers, body in lines
    )


def _run_until_done(command: list[str], marker: Path, threads: int, seconds: float) -> str:
    """Run wrk; once every thread has sent its share (a ``marker`` line per thread), interrupt
    it — wrk prints its summary on SIGINT — instead of idling out the full duration.

    The signal is repeated until wrk exits: only the main thread's ``sleep`` ends the run,
    and a signal the kernel hands to a load thread that is still winding down leaves wrk
    asleep for the rest of its duration."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + seconds + 60
    while process.poll() is None and time.monotonic() < deadline:
        if marker.exists() and len(set(marker.read_text().splitlines())) >= threads:
            for _ in range(30):
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(2)
                    break
                except subprocess.TimeoutExpired:
                    continue
            break
        time.sleep(0.02)
    out, err = process.communicate(timeout=60)
    if process.returncode not in (0, -signal.SIGINT):
        raise RuntimeError(f"wrk failed ({process.returncode}): {err[-500:]}")
    return out


def ensure_wrk() -> str:
    """The wrk binary, installing Debian's package once if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and could not be installed")
    return found


def run_wrk(
    url: str,
    lines: list[tuple[dict[str, str], str]],
    *,
    connections: int,
    seconds: float,
    once: bool = False,
) -> WrkResult:
    """POST ``lines`` (headers, body) to ``url`` from ``connections`` connections for
    ``seconds``. ``once``: each thread stops when its share of all but the last
    ``connections`` lines is answered; those last lines are spare, so the requests a thread
    still has in flight at that moment are distinct too (never a line sent twice)."""
    threads = 2
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        data, script = Path(tmp) / "requests.tsv", Path(tmp) / "script.lua"
        marker = Path(tmp) / "finished"
        data.write_text(request_lines(lines))
        script.write_text(LUA)
        command = [
            ensure_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
            "--",
            str(data),
            str(threads),
            "once" if once else "loop",
            str(marker),
            str(max(1, len(lines) - connections) if once else len(lines)),
        ]
        out = _run_until_done(command, marker, threads, seconds)
        upstream = tuple(
            float(value)
            for path in sorted(Path(tmp).glob("finished.timing.*"))
            for value in path.read_text().split()
        )
    match = re.search(r"RESULT (\{.*\})", out)
    if match is None:
        raise RuntimeError(f"wrk printed no result: {out[-500:]}")
    raw = json.loads(match[1])
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        non2xx=raw["non2xx"],
        errors=raw["errors"],
        p50_ms=raw["p50"] / 1000,
        p90_ms=raw["p90"] / 1000,
        p99_ms=raw["p99"] / 1000,
        upstream_ms=upstream,
    )
