"""Files in and out: data, params and atomic writes, every value admitted where it enters.

Data are CSV files with columns named after variables (``x[0]``, ``x[1]``, ...), NPZ files with an array
a variable, or dicts; params files are NPZ with a JSON sidecar. Errors name the file and the row and
column, or the array; nothing is ever unpickled.

- ``files``: opening what a user names (regular files, JSON objects, NPZ archives checked before loading),
  atomic writes;
- ``values``: admitting arrays of numbers (finite in the compute type, inside their domain);
- ``data``: data rows from CSV, NPZ or dicts; ``params``: params files and starting params.
"""

from .data import prepare_data, read_csv, read_data, read_npz
from .files import atomic_write, load_npz, read_json, regular_file
from .params import check_params, load_params, save_params

__all__ = ["atomic_write", "check_params", "load_npz", "load_params", "prepare_data", "read_csv", "read_data",
           "read_json", "read_npz", "regular_file", "save_params"]
