// 我的反映: the resident's own reports, newest first, and the erasure of their personal data on request.

import { ApiError, describeError } from "../../api/errors";
import { eraseMyData } from "../../api/residents";
import { listMyTickets } from "../../api/tickets";
import type { Ticket } from "../../api/types";
import { excerpt, formatTime } from "../../utils/format";
import { handlingSentence, statusName } from "../../utils/labels";
import { confirm } from "../../utils/wx-async";

interface TicketRow {
  id: string;
  status: string;
  statusName: string;
  handling: string;
  excerpt: string;
  when: string;
}

function ticketRow(ticket: Ticket): TicketRow {
  return {
    id: ticket.id,
    status: ticket.status,
    statusName: statusName(ticket.status),
    handling: handlingSentence(ticket),
    excerpt: excerpt(ticket.text),
    when: formatTime(ticket.created_at),
  };
}

const ERASE_WARNING = "删除后,您反映过的问题仍会继续处理,但将不再与您关联,您也无法再查看进度。确定删除吗?";

Component({
  data: {
    tickets: [] as TicketRow[],
    nextPageToken: "",
    loading: false,
    loaded: false,
    error: "",
    erasure: "",
  },

  methods: {
    onShow(): void {
      this.loadFirstPage();
    },

    onPullDownRefresh(): void {
      this.loadFirstPage().then(() => wx.stopPullDownRefresh());
    },

    onReachBottom(): void {
      if (this.data.nextPageToken) this.loadPage(this.data.nextPageToken);
    },

    loadFirstPage(): Promise<void> {
      return this.loadPage("");
    },

    async loadPage(pageToken: string): Promise<void> {
      if (this.data.loading) return;
      this.setData({ loading: true, error: "" });
      try {
        const page = await listMyTickets(pageToken);
        const rows = page.tickets.map(ticketRow);
        this.setData({
          tickets: pageToken ? this.data.tickets.concat(rows) : rows,
          nextPageToken: page.next_page_token,
          loaded: true,
        });
      } catch (error) {
        this.setData({ error: describeError(error), loaded: true });
      } finally {
        this.setData({ loading: false });
      }
    },

    onOpenTicket(event: WechatMiniprogram.BaseEvent<Record<string, never>, { id: string }>): void {
      wx.navigateTo({ url: `/pages/ticket/index?id=${encodeURIComponent(event.currentTarget.dataset.id)}` });
    },

    async onErase(): Promise<void> {
      if (!(await confirm("删除我的个人信息", ERASE_WARNING))) return;
      try {
        const erased = await eraseMyData();
        this.setData({ tickets: [], nextPageToken: "", erasure: `已删除:${erased.tickets} 条反映不再与您关联。` });
      } catch (error) {
        const none = error instanceof ApiError && error.code === "not_found";
        this.setData({ erasure: none ? "没有需要删除的个人信息。" : describeError(error) });
      }
    },
  },
});
