"""RemoteMonitor: POST each epoch's logs to a server (Keras 3's callback, with the standard library's urllib
in place of the requests package)."""
import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

from .callback import Callback


class RemoteMonitor(Callback):
    """At each epoch's end, POST {"epoch": epoch, **logs} to ``root + path``: as the JSON body
    (``send_as_json=True``, content type application/json) or as a form whose ``field`` holds the JSON.
    A server that cannot be reached gives a warning, never an error, as in Keras."""

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data", headers=None,
                 send_as_json=False, timeout=10.0):
        super().__init__()
        scheme = urllib.parse.urlparse(root + path).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"RemoteMonitor: root must be an http:// or https:// URL, received root={root!r}")
        self.root, self.path, self.field = root, path, field
        self.headers = dict(headers or {})
        self.send_as_json = bool(send_as_json)
        self.timeout = float(timeout)

    def on_epoch_end(self, epoch, logs=None):
        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            send[key] = value.item() if isinstance(value, (np.ndarray, np.generic)) else value
        if self.send_as_json:
            body, content_type = json.dumps(send).encode(), "application/json"
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode()
            content_type = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.root + self.path, data=body, method="POST",
                                         headers={"Content-Type": content_type, **self.headers})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError):
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}", stacklevel=2)
