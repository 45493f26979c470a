"""Sessions recorded and replayed: checkpoints, the recording file, the recorder, replay.

- checkpoint.py: whole-session checkpoints (machine, monitor, session), atomic restore;
- format.py: the file's chunks, plain-data payloads, the build identity;
- recorder.py: `Recorder`, a session observer that writes a recording;
- replay.py: `Recording` (a file read and checked) and `Replayer` (seek, play, verify).

docs/recording-format.md describes the format and the rules.
"""

from disco_core.record.format import RecordingError

__all__ = ["RecordingError"]
