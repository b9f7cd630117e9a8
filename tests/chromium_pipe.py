"""A minimal headless-Chromium driver over the DevTools protocol on --remote-debugging-pipe.

Why this and not WebDriver: the pipe needs no chromedriver process, no TCP port and no
Python package; the browser reads commands on fd 3 and writes replies and events on fd 4,
NUL-separated JSON. Clicks and key presses go through Input.dispatch*Event, so they are
trusted input events exactly like a user's, and every console message, uncaught exception
and browser-side log entry (CSP violations, blocked loads) arrives as an event we keep.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

# The machine has no network: without these Chromium tries to reach update, sync and
# field-trial servers, and waits on them.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
         "--hide-scrollbars", "--mute-audio", "--disable-breakpad", "--disable-crash-reporter"]
INSTALL_HINT = ("Chromium is needed for the browser test: as root, `apt-get update && apt-get install -y "
                "chromium` (Debian), or set CBCHECK_CHROMIUM to a Chromium/Chrome binary.")


# Only a guard against a browser that hangs, never a speed check: every wait fails after this
# long, far above what any step takes even on a loaded machine. Speed belongs in benchmarks/.
HANG_GUARD_SECONDS = 300.0


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    explicit = os.environ.get("CBCHECK_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """One browser with one page. Use as a context manager; `events` holds every event."""

    def __init__(self, binary: str, user_data_dir: str, width: int = 1280, height: int = 900,
                 timeout: float = HANG_GUARD_SECONDS) -> None:
        self.timeout = timeout
        self.events: list[dict] = []
        self._buf = b""
        self._next_id = 0
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds() -> None:  # in the child, before exec: the browser expects fds 3 and 4
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        # A file, not a pipe, for stderr: Chromium logs freely and a full pipe would stall it.
        self._stderr = tempfile.TemporaryFile()
        self.session = None
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={user_data_dir}", "--remote-debugging-pipe",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
            pass_fds=(3, 4), preexec_fn=wire_fds, start_new_session=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            self._attach(width, height)
        except BaseException:
            self.close()
            raise

    def _attach(self, width: int, height: int) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    # -- protocol ------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"Chromium gave no answer in {self.timeout:g} s: it hangs")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise BrowserError("Chromium closed the pipe: " + self._stderr_tail())
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        for ev in self.events:
            if ev["method"] == method:
                return ev
        while True:
            ev = self._read_message(deadline)
            if "method" in ev:
                self.events.append(ev)
                if ev["method"] == method:
                    return ev

    # -- page ----------------------------------------------------------------------------
    def open(self, url: str) -> None:
        self.events = [ev for ev in self.events if ev["method"] != "Page.loadEventFired"]
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigation to {url} failed: {result['errorText']}")
        self.wait_event("Page.loadEventFired")

    def js(self, expression: str):
        """The value of a JavaScript expression; an exception in it fails loudly."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str) -> None:
        """Until a JavaScript expression is truthy: events such as hashchange run as later tasks."""
        deadline = time.monotonic() + self.timeout
        while not self.js(expression):
            if time.monotonic() > deadline:
                raise BrowserError(f"{expression!r} still false after {self.timeout:g} s: the page hangs")
            time.sleep(0.02)

    def center_of(self, selector: str) -> tuple[float, float]:
        box = self.js(f"(function(){{var el=document.querySelector({json.dumps(selector)});"
                      "if(!el){return null;} el.scrollIntoView({block:'center'});"
                      "var r=el.getBoundingClientRect(); return [r.left+r.width/2, r.top+r.height/2, r.width, r.height];})()")
        if not box:
            raise BrowserError(f"no element matches {selector}")
        if box[2] <= 0 or box[3] <= 0:
            raise BrowserError(f"{selector} has no size on the page, it cannot be clicked")
        return box[0], box[1]

    def click(self, selector: str) -> None:
        x, y = self.center_of(selector)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def press_enter_on(self, selector: str) -> None:
        """Focus the element and press Enter on the keyboard, as a keyboard-only user would."""
        if not self.js(f"(function(){{var el=document.querySelector({json.dumps(selector)});"
                       "if(!el){return false;} el.focus(); return document.activeElement===el;})()"):
            raise BrowserError(f"{selector} cannot take keyboard focus")
        for kind in ("rawKeyDown", "char", "keyUp"):
            params = {"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
            if kind == "char":
                params["text"] = "\r"
            self.call("Input.dispatchKeyEvent", params)

    def visible(self, selector: str) -> bool:
        return bool(self.js(f"(function(){{var el=document.querySelector({json.dumps(selector)});"
                            "if(!el){return false;} var r=el.getBoundingClientRect();"
                            "return el.checkVisibility({checkVisibilityCSS:true}) && r.width>0 && r.height>0;})()"))

    def screenshot(self, full_page: bool = True, max_height: int | None = None) -> bytes:
        """A PNG of the viewport, or of the whole page from its top (at most `max_height` pixels:
        a long report's full picture takes tens of seconds to encode)."""
        params: dict = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            height = size["height"] if max_height is None else min(size["height"], max_height)
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": height, "scale": 1})
        return base64.b64decode(self.call("Page.captureScreenshot", params)["data"])

    def requested_urls(self) -> list[str]:
        """Every URL the page asked for (documents, styles, scripts, images, fetches)."""
        return [ev["params"]["request"]["url"] for ev in self.events if ev["method"] == "Network.requestWillBeSent"]

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and browser log errors seen so far."""
        out = []
        for ev in self.events:
            p = ev.get("params", {})
            if ev["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
            elif ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{p['type']}: " + json.dumps(p.get("args", []))[:500])
            elif ev["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                entry = p["entry"]
                out.append(f"log {entry.get('source')}/{entry['level']}: {entry.get('text')} {entry.get('url', '')}")
        return out

    # -- lifetime ------------------------------------------------------------------------
    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:]

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.session = None
                try:
                    self.call("Browser.close")
                except (BrowserError, OSError):
                    pass
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    # Only the process group this object started (start_new_session above).
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=5)
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._stderr.close()

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
