/* version.h - kvmlite's version, as `kvmlite --version` and the manual page (docs/kvmlite.1) give it. */
#ifndef KVMLITE_VERSION_H
#define KVMLITE_VERSION_H

#define KVMLITE_VERSION "0.1.0"

#endif
