/*
 * mail_ext.h - the mailbox extension of the protocol (headers 20 to 28):
 * structured lists with stable ids, read, delete, flags and search by id,
 * password change and new-mail notices. The handlers are declared by
 * dispatch.h from proto/messages.def; this is what the rest of the server
 * calls.
 */
#ifndef GLOMAILD_MAIL_EXT_H
#define GLOMAILD_MAIL_EXT_H

struct mailbox;
struct mailbox_entry;
struct maildir_file;
struct message_info;

/*
 * A message was delivered into mb (and indexed): send a NEW_MAIL notice to
 * each session of mb that subscribed. Once per message: whichever comes
 * first, our delivery or a scan that found it (mail_ext_arrived), notifies.
 */
void mail_ext_delivered(struct mailbox *mb, const struct maildir_file *file,
    const struct message_info *info);
/* A scan found e newly arrived in new/ (another process delivered it). */
void mail_ext_arrived(struct mailbox *mb, struct mailbox_entry *e);

#endif
