"""PortAudio (through sounddevice) for the engine: devices, the C-callback stream, JACK.

Three facts from these machines (DESIGN.md, "Pitfalls"): PortAudio sees a JACK server only if
the server already runs when PortAudio is initialised, so :func:`ensure_portaudio` re-initialises
it when a server is expected but missing; PortAudio must be terminated before that server stops
(sounddevice does it at exit); and PortAudio's status flags undercount xruns, so under JACK they
are counted with a JACK xrun callback (:class:`JackMonitor`, the JACK-Client package).
"""

import os
import threading
from typing import Any

from audiolab._ckernel import ffi, lib
from audiolab._errors import AudioDeviceError

__all__ = [
    "EngineStream",
    "JackMonitor",
    "abandon_portaudio",
    "ensure_portaudio",
    "jack_server_name",
    "list_devices",
    "resolve_device",
]


_PORTAUDIO_DEAD: list[str] = []
_LEAKED: list[Any] = []  # engines a hung stream may still call: kept alive for the process


def abandon_portaudio(reason: str) -> None:
    """Stop touching PortAudio in this process (the audio server died under an open stream).

    PortAudio's JACK host then hangs in every call (stop, abort, close and Pa_Terminate all
    block), so sounddevice's Pa_Terminate at exit is skipped too. Opening a stream afterwards
    raises.
    """
    import atexit

    if not _PORTAUDIO_DEAD:
        _PORTAUDIO_DEAD.append(reason)
        sd = _sd()
        atexit.unregister(sd._exit_handler)


def jack_server_name() -> str | None:
    """The JACK server this process is meant to use (AUDIOLAB_JACK_SERVER / JACK_DEFAULT_SERVER)."""
    return os.environ.get("AUDIOLAB_JACK_SERVER") or os.environ.get("JACK_DEFAULT_SERVER")


def _sd() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # libportaudio2 missing
        raise AudioDeviceError(
            f"PortAudio is not available ({exc}); install the libportaudio2 package"
        ) from None
    return sounddevice


def _has_jack_host_api(sd: Any) -> bool:
    return any("JACK" in api["name"] and api["devices"] for api in sd.query_hostapis())


def ensure_portaudio(*, reinitialise: bool = False) -> Any:
    """Return the sounddevice module, with PortAudio seeing the JACK server if one is expected.

    PortAudio scans host APIs once, at initialisation: a JACK server started after that is
    invisible until PortAudio is re-initialised. That is only safe with no stream open.
    """
    sd = _sd()
    if reinitialise or (jack_server_name() and not _has_jack_host_api(sd)):
        sd._terminate()
        sd._initialize()
    return sd


def list_devices() -> list[dict[str, Any]]:
    """The audio devices PortAudio sees, with their host API name."""
    sd = ensure_portaudio()
    apis = sd.query_hostapis()
    out = []
    for d in sd.query_devices():
        d = dict(d)
        d["host_api"] = apis[d["hostapi"]]["name"]
        out.append(d)
    return out


def resolve_device(device: Any, *, kind: str) -> int:
    """Device index for ``device`` (None: the default; an int; or part of a name).

    Raises
    ------
    AudioDeviceError
        No device at all (no sound card, or the audio server is not running), no device that
        matches, or one without channels of ``kind`` ("input" or "output").
    """
    sd = ensure_portaudio()
    devices = sd.query_devices()
    if len(devices) == 0:
        server = jack_server_name()
        hint = (
            f"is the JACK server {server!r} running?" if server
            else "is a sound card connected (or a JACK server running)?"
        )
        raise AudioDeviceError(f"no audio devices found: {hint}")
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    if device is None or device == "":
        idx = sd.default.device[0 if kind == "input" else 1]
        if idx is None or idx < 0:
            candidates = [i for i, d in enumerate(devices) if d[key] > 0]
            if not candidates:
                raise AudioDeviceError(f"no audio device has {kind} channels")
            idx = candidates[0]
        return int(idx)
    if isinstance(device, str) and device.strip().lstrip("-").isdigit():
        device = int(device)
    if isinstance(device, int):
        if not 0 <= device < len(devices):
            raise AudioDeviceError(
                f"device {device} does not exist (devices 0-{len(devices) - 1}); run "
                "`audiolab devices` to list them"
            )
        idx = device
    else:
        try:
            idx = int(sd.query_devices(device, kind)["index"])
        except ValueError as exc:
            first = str(exc).splitlines()[0]
            raise AudioDeviceError(
                f"{first.rstrip(':')}; run `audiolab devices` to list them"
            ) from None
    if devices[idx][key] < 1:
        raise AudioDeviceError(f"device {idx} ({devices[idx]['name']}) has no {kind} channels")
    return idx


class EngineStream:
    """A PortAudio stream whose callback is the engine's C function (no Python in the audio path).

    As in python-rtmixer, sounddevice's stream base class opens the stream with a C function
    pointer (``al_engine_callback``) and the engine state as ``userData``.
    """

    def __init__(
        self,
        engine_ptr: Any,
        *,
        fs: float,
        n_inputs: int,
        n_outputs: int,
        input_device: int | None,
        output_device: int,
        block_frames: int,
        latency: Any = "low",
        keepalive: Any = None,
    ) -> None:
        # The callback dereferences engine_ptr for as long as PortAudio runs the stream: hold
        # whatever owns that memory (the Engine) until the stream is closed.
        self._keepalive = keepalive
        if _PORTAUDIO_DEAD:
            raise AudioDeviceError(
                f"audio is unusable in this process since {_PORTAUDIO_DEAD[0]}; restart it"
            )
        sd = ensure_portaudio()
        callback = ffi.addressof(lib, "al_engine_callback")
        userdata = ffi.cast("void *", engine_ptr)
        common = {
            "samplerate": fs, "blocksize": block_frames, "dtype": "float32",
            "callback": callback, "userdata": userdata, "wrap_callback": None,
            "latency": latency,
        }
        try:
            if n_inputs > 0:
                self._stream = sd._StreamBase(
                    kind="duplex", device=(input_device, output_device),
                    channels=(n_inputs, n_outputs), **common,
                )
            else:
                self._stream = sd._StreamBase(
                    kind="output", device=output_device, channels=n_outputs, **common
                )
        except sd.PortAudioError as exc:
            raise AudioDeviceError(f"cannot open the audio stream: {exc}") from None
        self._closed = False

    @property
    def active(self) -> bool:
        """True while the stream runs."""
        return (not self._closed) and bool(self._stream.active)

    @property
    def latency(self) -> Any:
        """PortAudio's reported latency in seconds (under JACK the input figure is 0)."""
        return self._stream.latency

    @property
    def samplerate(self) -> float:
        """The stream's sample rate in Hz."""
        return float(self._stream.samplerate)

    def start(self) -> None:
        """Start calling the engine."""
        sd = _sd()
        try:
            self._stream.start()
        except sd.PortAudioError as exc:
            raise AudioDeviceError(f"cannot start the audio stream: {exc}") from None

    def close(self, *, timeout_s: float = 2.0) -> None:
        """Stop and close; never hangs longer than ``timeout_s``.

        After the audio server died under the stream, PortAudio blocks in abort and close: the
        attempt is left in a daemon thread and PortAudio is abandoned for this process.
        """
        if self._closed:
            return
        self._closed = True
        stream = self._stream
        errors: list[str] = []

        def _close() -> None:
            try:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(str(exc))

        t = threading.Thread(target=_close, daemon=True, name="audiolab-stream-close")
        t.start()
        t.join(timeout_s)
        if t.is_alive():
            # PortAudio may still call back into the engine: never let its memory go.
            _LEAKED.append(self._keepalive)
            abandon_portaudio("closing the audio stream hung")
            raise AudioDeviceError(
                f"the audio stream did not close within {timeout_s:g} s (the audio server "
                "stopped responding); the process should exit"
            )


class JackMonitor:
    """Counts JACK xruns with the server's own xrun callback (PortAudio undercounts them).

    Also notices when the server shuts down. Needs the JACK-Client package and a running server.
    """

    def __init__(self, name: str = "audiolab-monitor") -> None:
        try:
            import jack
        except (ImportError, OSError) as exc:
            raise AudioDeviceError(f"JACK-Client is not usable here ({exc})") from None
        try:
            self.client = jack.Client(name, no_start_server=True)
        except jack.JackError as exc:
            raise AudioDeviceError(f"cannot connect to the JACK server: {exc}") from None
        self.xruns = 0
        self.shutdown_reason: str | None = None
        self._lock = threading.Lock()

        def on_xrun(delay_us: float) -> None:
            with self._lock:
                self.xruns += 1

        def on_shutdown(status: Any, reason: str) -> None:
            self.shutdown_reason = reason or "the JACK server shut down"

        self.client.set_xrun_callback(on_xrun)
        self.client.set_shutdown_callback(on_shutdown)
        self.client.activate()

    @property
    def samplerate(self) -> int:
        """The server's sample rate in Hz."""
        return int(self.client.samplerate)

    @property
    def blocksize(self) -> int:
        """The server's period in frames."""
        return int(self.client.blocksize)

    def count(self) -> int:
        """Number of xruns seen since this monitor started."""
        with self._lock:
            return self.xruns

    def connect(self, source: str, destination: str) -> None:
        """Connect two JACK ports (e.g. our output to our input, a loopback)."""
        self.client.connect(source, destination)

    def disconnect(self, source: str, destination: str) -> None:
        """Disconnect two JACK ports."""
        self.client.disconnect(source, destination)

    def ports(self, pattern: str = "", **kwargs: Any) -> list[str]:
        """Names of the JACK ports matching ``pattern``."""
        return [p.name for p in self.client.get_ports(pattern, **kwargs)]

    def stream_ports(self, before: set[str]) -> tuple[list[str], list[str]]:
        """Input and output ports created since ``before`` (a stream opened since), by channel.

        PortAudio numbers the ports of successive streams on (in_0, in_1, then in_2, ...), so
        a stream's channel k is its k-th port in creation order, not the port called in_k.
        """
        import re

        def number(p: str) -> int:
            m = re.search(r"(\d+)$", p)
            return int(m.group(1)) if m else -1

        new = set(self.ports()) - before
        ins = sorted((p for p in new if re.search(r":in_\d+$", p)), key=number)
        outs = sorted((p for p in new if re.search(r":out_\d+$", p)), key=number)
        return ins, outs

    def connections(self, port: str) -> list[str]:
        """Names of the ports connected to ``port``."""
        return [p.name for p in self.client.get_all_connections(port)]

    def close(self) -> None:
        """Deactivate and close the client."""
        try:
            self.client.deactivate()
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a client of a dead server may fail; ignore
            pass
