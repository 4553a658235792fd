/*
 * sendmany.h - EMAIL_SENDING_MANY, one message to several recipients
 * (handler h_email_send_many, declared with the others in dispatch.h).
 */
#ifndef GLOMAILD_SENDMANY_H
#define GLOMAILD_SENDMANY_H

/*
 * Addresses in "to" and "cc" together, duplicates included, that one
 * request may carry; CAPABILITIES reports it (max_recipients_many).
 */
#define SENDMANY_MAX_RECIPIENTS 100

#endif
