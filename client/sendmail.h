/*
 * sendmail.h - glomail's sendmail(8)-compatible entry point: one message
 * on standard input, submitted by SMTP to the local glomaild.
 */
#ifndef GLOMAIL_SENDMAIL_H
#define GLOMAIL_SENDMAIL_H

/* Run with sendmail's arguments (argv[0] is the program's name); returns
 * the exit status (sysexits.h). */
int sendmail_main(int argc, char **argv);

#endif
