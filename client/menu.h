/*
 * menu.h - the interactive client: the original's connection and main
 * menus, prompts and displays.
 */
#ifndef GLOMAIL_MENU_H
#define GLOMAIL_MENU_H

struct session;

/*
 * Run the menus until the user quits, input ends or the server goes
 * away. Returns an exit code (SESSION_EXIT_*). Does not close s.
 */
int menu_run(struct session *s);

#endif
