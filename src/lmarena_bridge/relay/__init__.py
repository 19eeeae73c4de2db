"""The work between the client APIs and the browser tabs; no Starlette here.

There are three ways to have a tab do something, one per kind of answer:

- **A site request, streamed** (``JobRun`` in relay/job_run.py over ``Dispatcher.dispatch`` in
  relay/dispatch.py): what every answering endpoint runs (relay/lifecycle.py). The answer comes
  back as body chunks; attempts fail over to another tab before the first byte, and the
  first-byte, idle and total timers, human checks and cooldowns apply.
- **One result** (``call_tab`` in relay/calls.py): uploads, the model catalog, image
  downloads through the page. One payload out, one ``result`` frame back, within one
  timeout; these share the job table and the tabs' slots with site requests, so they queue
  and are aborted like them, but have no stream, no failover and no idle timer.
- **A command whose reply comes later, not as a job** (``TabRequests`` in
  relay/tab_requests.py): arming the legacy id capture (the reply is the person's click on
  the page) and a seed-era tab's page source. The reply is a control frame matched to a
  waiter; no slot is taken.
"""
