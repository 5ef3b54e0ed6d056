"""sftest: the one Python library of the statefun-c test drivers.

The drivers under tests/, fuzz/make_corpus.py, bench/ and
deploy/local/kafka_tool.py share their low-level pieces from here, one
module a purpose:

  wire     protobuf varints and fields, the StateFun wrapper values
  net      free loopback ports, one-shot HTTP requests, keep-alive
           connections per thread
  procs    a child with a log; pausing it; waiting for it to listen;
           sanitizer reports in its log; RSS and open fds of a process
  checks   check()/check_eq() and the tally that prints "N passed, M failed"
  sflocal  an example's function server behind sf-local, one per test;
           a kill -9 sure to hit a request in flight; the PASS/FAIL loop

Standard library only, so every interpreter the drivers run under (the
system python3, the venvs of scripts/python-env.sh and tests/e2e) can
import it. A driver finds it with one line relative to its own file:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "pylib"))

(adjust the "..": the path is <repo>/tests/pylib), which works from any
working directory and on a fresh clone, with no PYTHONPATH.
"""
