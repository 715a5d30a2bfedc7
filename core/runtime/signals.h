// SIGINT/SIGTERM handling: the first signal asks the pipeline to stop at the next clean
// boundary; a second one asks it to stop at once (what is durable stays confirmed).
#pragma once

namespace cdcctl::signals {

void Install();
bool StopRequested();
bool AbortRequested();
void RequestStop();  // as if SIGTERM arrived (tests)
// Forget every request, as in a process that got no signal: for tests that run several pipelines
// in one process. Never called by cdcctl itself.
void Reset();

}  // namespace cdcctl::signals
