"""A page in headless Chromium, driven as a person would: a window of a given size, clicks, the wheel, keys and a
two-finger pinch, screenshots, what the page says on its console, and what its DOM says now.

It speaks the Chrome DevTools Protocol over the pipe Chromium opens with ``--remote-debugging-pipe`` (file
descriptors 3 and 4, one JSON message per NUL-terminated line), so it needs nothing but the browser: Debian's
``chromium-headless-shell``.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")
KEYS = {  # a key's code and Windows virtual key code, for the keys the page knows
    "ArrowLeft": 37, "ArrowUp": 38, "ArrowRight": 39, "ArrowDown": 40, "Escape": 27, "Home": 36, "End": 35,
}


class Browser:
    """One tab of a headless Chromium, ``width`` by ``height`` CSS pixels at one device pixel per CSS pixel."""

    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        commands, self._to_browser = os.pipe()
        self._from_browser, replies = os.pipe()

        def on_3_and_4() -> None:  # in the child: the protocol's two pipes where Chromium looks for them
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--remote-debugging-pipe", "--no-first-run", f"--window-size={width},{height}", "about:blank"],
            preexec_fn=on_3_and_4, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(commands)
        os.close(replies)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.width, self.height = width, height

    # -- the protocol ---------------------------------------------------------------------------------------------
    def _message(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise ConnectionError("Chromium closed its pipe")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(line)

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def send(self, method: str, params: dict | None = None) -> dict:
        """A command to the tab; its result."""
        return self._send(method, params, self._session)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        """The next event called ``method`` (one already received counts)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method:
                    return self.events.pop(i)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} from Chromium")
            self.events.append(self._message(max(deadline - time.monotonic(), 0.1)))

    # -- what a person does ---------------------------------------------------------------------------------------
    def open(self, path: Path, hash: str = "") -> None:
        """Open a file afresh (even the one open now, with another ``#hash``) and wait until it has loaded."""
        for url in ("about:blank", path.resolve().as_uri() + hash):
            self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
            self.send("Page.navigate", {"url": url})
            self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (a promise's, once it settles)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("exception", {}).get("description", result))
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def drag(self, start: tuple[float, float], end: tuple[float, float], moves: int = 8) -> None:
        self.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": start[0], "y": start[1],
                                               "button": "left", "clickCount": 1})
        for i in range(1, moves + 1):
            x = start[0] + (end[0] - start[0]) * i / moves
            y = start[1] + (end[1] - start[1]) * i / moves
            self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "button": "left",
                                                   "buttons": 1})
        self.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": end[0], "y": end[1], "button": "left",
                                               "clickCount": 1})

    def wheel(self, x: float, y: float, delta_y: float, *, ctrl: bool = False) -> None:
        """The mouse wheel turned over (x, y); with ``ctrl``, as a touchpad sends a pinch."""
        self.send("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": x, "y": y, "deltaX": 0,
                                               "deltaY": delta_y, "modifiers": 2 if ctrl else 0})

    def pinch(self, x: float, y: float, start: float, end: float, moves: int = 6) -> None:
        """Two fingers on a touch screen, ``start`` px apart, moved to ``end`` px apart about (x, y)."""
        def points(distance: float) -> list[dict]:
            return [{"x": x - distance / 2, "y": y, "id": 0}, {"x": x + distance / 2, "y": y, "id": 1}]

        self.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(start)})
        for i in range(1, moves + 1):
            self.send("Input.dispatchTouchEvent",
                      {"type": "touchMove", "touchPoints": points(start + (end - start) * i / moves)})
        self.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    def key(self, key: str) -> None:
        """One key pressed and released: a character (``.``, ``+``, ``f``, space) or a named key (``ArrowLeft``)."""
        code = KEYS.get(key)
        down = {"type": "keyDown", "key": key}
        if code is None:
            down.update(text=key, unmodifiedText=key)
        else:
            down.update(windowsVirtualKeyCode=code, nativeVirtualKeyCode=code, code=key)
        self.send("Input.dispatchKeyEvent", down)
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, **({"windowsVirtualKeyCode": code} if code else {})})

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def console(self) -> list[str]:
        """Every message the page has put on its console, and every error it has thrown, so far."""
        self.send("Runtime.evaluate", {"expression": "0"})  # flushes the events sent before it
        said = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled":
                said.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif event["method"] == "Runtime.exceptionThrown":
                said.append(params["exceptionDetails"].get("exception", {}).get("description", str(params)))
            elif event["method"] == "Log.entryAdded":
                said.append(params["entry"].get("text", ""))
        return said

    def close(self) -> None:
        try:
            self._send("Browser.close")
        except (ConnectionError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
