"""The browser the bridge runs itself (``serve --browser``): finding the executable,
checking the profile is free, building the page script as an extension, launching and
closing Chromium, and keeping it running.

No remote-debugging port and no pipe: Chromium is a plain child process, so the page sees
the browser a person would use (``navigator.webdriver`` false); see README "The browser the
bridge runs".
"""
