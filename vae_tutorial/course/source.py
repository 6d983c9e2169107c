"""Show the package's own code in a notebook: the lesson's code is the code that runs, with no copy to drift.
"""

import inspect


def show(*objects):
    """Highlighted source of each function, class or module in ``objects``, for a notebook cell to display.

    Returns an ``IPython.display.Code`` (one block for all of them), which JupyterLab renders with syntax
    highlighting when it is the last value of a cell.
    """
    from IPython.display import Code

    if not objects:
        raise ValueError("Argument `objects` must name at least one function, class or module. Received: none")
    return Code("\n\n".join(inspect.getsource(obj).rstrip() for obj in objects), language="python")
