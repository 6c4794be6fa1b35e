// The job lock of the scenarios that kill no worker. The stack's default (4 s) makes a killed
// worker's job run again quickly; but a worker that only stalls (nice 10 on a saturated machine)
// longer than that loses its lock while its job still runs, and BullMQ hands the job to another
// worker: a concurrent second run that these scenarios would count against the service, under a
// setting no installation uses (the default is 60 s). 30 s keeps them production-like.
export const NO_CRASH_LOCK_SECONDS = 30;
